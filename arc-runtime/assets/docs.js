// Renders /_docs/openapi.json for people: operations by tag, their parameters, bodies,
// answers and permission rules, then the schemas. No dependencies; errors are shown on the
// page (and counted in #errors) so a headless browser test can see them.
"use strict";

function showError(message) {
  const list = document.getElementById("errors");
  const item = document.createElement("li");
  item.textContent = String(message);
  list.appendChild(item);
  list.hidden = false;
}
window.addEventListener("error", (e) => showError(e.message));
window.addEventListener("unhandledrejection", (e) => showError(e.reason));

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function refName(ref) {
  return ref.split("/").pop();
}

// A schema as a short type: `Product`, `array of Product`, `string (uuid)`.
function typeOf(schema) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.oneOf) return schema.oneOf.map(typeOf).join(" | ");
  if (schema.type === "array") return "array of " + typeOf(schema.items);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "any";
  return schema.format ? `${type} (${schema.format})` : type;
}

function parameters(op) {
  if (!op.parameters || op.parameters.length === 0) return null;
  const rows = op.parameters.map((p) =>
    el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, typeOf(p.schema)),
      el("td", {}, p.description || (p.required ? "required" : ""))));
  return el("div", {}, el("h4", {}, "Parameters"),
    el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "")), ...rows));
}

function requestBody(op) {
  const schema = op.requestBody && op.requestBody.content["application/json"].schema;
  if (!schema) return null;
  return el("div", {}, el("h4", {}, "Body"), el("pre", {}, JSON.stringify(schema, null, 2)));
}

function responses(op) {
  const rows = Object.entries(op.responses).map(([status, answer]) => {
    const name = answer.$ref ? refName(answer.$ref) : answer.description;
    const content = answer.content && Object.values(answer.content)[0];
    return el("tr", {}, el("td", {}, status), el("td", {}, name), el("td", {}, content ? typeOf(content.schema) : ""));
  });
  return el("div", {}, el("h4", {}, "Answers"), el("table", {}, ...rows));
}

function operation(method, path, op) {
  const summary = el("summary", {},
    el("span", { class: "method " + method }, method.toUpperCase()),
    el("span", { class: "path" }, path),
    el("span", { class: "summary" }, op.summary || ""),
    el("span", { class: "perm", title: "permission" }, op["x-arc-permission"] || ""));
  return el("details", { class: "op", id: op.operationId }, summary,
    el("div", { class: "body" }, parameters(op), requestBody(op), responses(op)));
}

function render(doc) {
  document.title = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("title").textContent = doc.info.title;
  const subtitle = document.getElementById("subtitle");
  subtitle.replaceChildren(`OpenAPI ${doc.openapi} · version ${doc.info.version} · `,
    el("a", { href: "/_docs/openapi.json" }, "openapi.json"));
  const byTag = new Map((doc.tags || []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== "object" || !op.responses) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(method, path, op));
    }
  }
  const nav = document.getElementById("nav");
  const main = document.getElementById("main");
  for (const [tag, ops] of byTag) {
    if (ops.length === 0) continue;
    nav.append(el("a", { href: "#tag-" + tag }, `${tag} (${ops.length})`));
    main.append(el("section", { class: "tag", id: "tag-" + tag }, el("h2", {}, tag), ...ops));
  }
  const schemas = Object.entries((doc.components && doc.components.schemas) || {});
  nav.append(el("a", { href: "#schemas" }, `schemas (${schemas.length})`));
  main.append(el("section", { class: "tag", id: "schemas" }, el("h2", {}, "Schemas"),
    ...schemas.map(([name, schema]) => el("details", { class: "op", id: "schema-" + name },
      el("summary", {}, el("span", { class: "path" }, name)),
      el("div", { class: "body" }, el("pre", {}, JSON.stringify(schema, null, 2)))))));
  document.body.dataset.rendered = String(byTag.size);
}

fetch("/_docs/openapi.json")
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`openapi.json: HTTP ${r.status}`))))
  .then(render)
  .catch(showError);
