//! Transitions with rules of their own (`state(packed -> shipped) = roles("shipper")` in
//! `#[permissions]`): checked beside the write's rule on updates, bulk updates and actions,
//! for roles, row rules and asynchronous `when(..)`.

use arc_tests::notes::bearer;
use arc_tests::{Reply, TestApp, assert_error, on_both};
use serde_json::json;

on_both!(
    arc_tests::teams::app =>
    a_role_rule_holds_on_updates_actions_and_bulk,
    a_row_rule_holds_on_the_row_moved,
    an_asynchronous_rule_asks_the_database
);

/// A shipment of `team` placed by `user`, in `state`.
async fn shipment(app: &TestApp, user: &str, team: &str, state: &str) -> String {
    let token = bearer(user, &[], None, &[]);
    let body = json!({"label": format!("{user}-{state}"), "placed_by": user, "team": team, "state": state});
    let made = app.as_(&token).post("/shipments", body).await;
    assert_eq!(made.status, 201, "{}", made.body);
    made.id()
}

fn move_refused(reply: &Reply, from: &str, to: &str) {
    assert_error(reply, 403, "FORBIDDEN");
    assert_eq!(
        reply.body["details"],
        json!({"field": "state", "from": from, "to": to}),
        "{}",
        reply.body
    );
}

async fn a_role_rule_holds_on_updates_actions_and_bulk(app: &TestApp) {
    let alice = bearer("alice", &[], None, &[]);
    let shipper = bearer("sam", &["shipper"], None, &[]);
    let id = shipment(app, "alice", "red", "packed").await;
    let uri = format!("/shipments/{id}");
    let patch = app
        .as_(&alice)
        .patch(&uri, json!({"state": "shipped"}))
        .await;
    move_refused(&patch, "packed", "shipped");
    let action = format!("/shipments/{id}/action");
    let acted = app
        .as_(&alice)
        .post(&action, json!({"action": "ship"}))
        .await;
    move_refused(&acted, "packed", "shipped");
    let bulk = app
        .as_(&alice)
        .patch(
            "/shipments/bulk",
            json!({"filter": {"state": "packed"}, "data": {"state": "shipped"}}),
        )
        .await;
    move_refused(&bulk, "packed", "shipped");
    let unchanged = app.as_(&alice).get(&uri).await;
    assert_eq!(unchanged.body["data"]["state"], "packed", "nothing moved");
    // A write that makes no move, or another field's change, needs only update's rule.
    let relabel = app
        .as_(&alice)
        .patch(&uri, json!({"label": "x", "state": "packed"}))
        .await;
    assert_eq!(relabel.status, 200, "{}", relabel.body);
    let shipped = app
        .as_(&shipper)
        .post(&action, json!({"action": "ship"}))
        .await;
    assert_eq!(shipped.status, 200, "{}", shipped.body);
    assert_eq!(shipped.body["data"]["state"], "shipped");
    // Deleting and restoring it is no move: the states are checked, nothing is refused.
    let deleted = app.as_(&alice).delete(&uri).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let restored = app
        .as_(&alice)
        .post(&format!("{uri}/restore"), json!({}))
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(restored.body["data"]["state"], "shipped");
    // An undeclared move is still a 409, whoever asks.
    let back = app
        .as_(&shipper)
        .patch(&uri, json!({"state": "placed"}))
        .await;
    assert_error(&back, 409, "INVALID_TRANSITION");
    // The registry names each transition's rule.
    let admin = bearer("root", &["admin"], None, &[]);
    let described = app.as_(&admin).get("/_resources").await.body;
    let resources = described["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let shipments = resources
        .iter()
        .find(|r| r["name"] == "shipment")
        .unwrap_or_else(|| panic!("{described}"));
    assert_eq!(
        shipments["transitions"][0],
        json!({"field": "state", "from": "packed", "to": "shipped", "permission": "roles(shipper)"}),
        "{shipments}"
    );
}

async fn a_row_rule_holds_on_the_row_moved(app: &TestApp) {
    let (alice, bob) = (
        bearer("alice", &[], None, &[]),
        bearer("bob", &[], None, &[]),
    );
    let hers = shipment(app, "alice", "red", "placed").await;
    let cancel = json!({"state": "cancelled"});
    let by_bob = app
        .as_(&bob)
        .patch(&format!("/shipments/{hers}"), cancel.clone())
        .await;
    move_refused(&by_bob, "placed", "cancelled");
    let by_alice = app
        .as_(&alice)
        .patch(&format!("/shipments/{hers}"), cancel.clone())
        .await;
    assert_eq!(by_alice.status, 200, "{}", by_alice.body);
    // Bulk: the rows bob placed move, the others are refused (and nothing is written).
    let _his = shipment(app, "bob", "red", "placed").await;
    let _other = shipment(app, "alice", "red", "placed").await;
    let bulk = app
        .as_(&bob)
        .patch(
            "/shipments/bulk",
            json!({"filter": {"state": "placed"}, "data": {"state": "cancelled"}}),
        )
        .await;
    move_refused(&bulk, "placed", "cancelled");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM shipments WHERE state = 'placed'")
            .await,
        2,
        "the bulk write is rolled back whole"
    );
}

async fn an_asynchronous_rule_asks_the_database(app: &TestApp) {
    let admin = bearer("root", &["admin"], None, &[]);
    let alice = bearer("alice", &[], None, &[]);
    let red = shipment(app, "bob", "red", "placed").await;
    let pack = json!({"state": "packed"});
    let refused = app
        .as_(&alice)
        .patch(&format!("/shipments/{red}"), pack.clone())
        .await;
    move_refused(&refused, "placed", "packed");
    let joined = app
        .as_(&admin)
        .post("/memberships", json!({"user_id": "alice", "team": "red"}))
        .await;
    assert_eq!(joined.status, 201);
    let packed = app
        .as_(&alice)
        .patch(&format!("/shipments/{red}"), pack.clone())
        .await;
    assert_eq!(
        packed.status, 200,
        "a member of the row's team: {}",
        packed.body
    );
    let blue = shipment(app, "bob", "blue", "placed").await;
    let other_team = app
        .as_(&alice)
        .patch(&format!("/shipments/{blue}"), pack)
        .await;
    move_refused(&other_team, "placed", "packed");
}
