//! The docs page in a real browser: headless Chromium loads `/_docs` from the shop (no
//! internet: the page's script and style come from the app), renders every resource's
//! operations, and logs no console error. A screenshot is kept in
//! `target/test-artefacts/docs-page.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Chromium: `ARC_CHROMIUM`, or Debian's `/usr/bin/chromium`; a panic when there is none.
fn chromium() -> PathBuf {
    let path = std::env::var_os("ARC_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "no Chromium at {}: this test needs it (set ARC_CHROMIUM; .ci/run installs Debian's chromium)",
        path.display()
    );
    path
}

/// Runs headless Chromium on `url` with `args`; returns (stdout, stderr).
fn run(chromium: &Path, profile: &Path, url: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium (.ci/run installs Debian's chromium)"]
async fn the_docs_page_renders_in_chromium() {
    let chromium = chromium();
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let router = arc_tests::shop_app(db).into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let url = format!("http://{addr}/_docs");
    let profile = std::env::temp_dir().join(format!("arc-chromium-{}", std::process::id()));

    let dom = {
        let (chromium, profile, url) = (chromium.clone(), profile.clone(), url.clone());
        tokio::task::spawn_blocking(move || run(&chromium, &profile, &url, &["--dump-dom"]))
            .await
            .unwrap()
    };
    let (html, log) = dom;
    assert!(
        html.contains("data-rendered="),
        "the page did not render:\n{html}\n{log}"
    );
    for needle in [
        "<h1 id=\"title\">shop</h1>",
        "tag-categories",
        "tag-products",
        "tag-orders",
        "/products/{id}/restore",
        "/categories/tree",
        "/orders/{id}",
        "id=\"product_update\"",
        "any(roles(admin), all(roles(editor), owner(created_by)))",
        "schema-ProductCreate",
    ] {
        assert!(
            html.contains(needle),
            "{needle} is not on the page:\n{html}"
        );
    }
    assert!(
        html.contains("<ul id=\"errors\" hidden=\"\"></ul>"),
        "the page reported errors:\n{html}"
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    // A screenshot, for people to look at.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("docs-page.png");
    let _ = std::fs::remove_file(&shot);
    let screenshot = format!("--screenshot={}", shot.display());
    tokio::task::spawn_blocking(move || {
        // A profile of its own: the first browser may still hold the other one.
        let profile = profile.with_extension("shot");
        run(
            &chromium,
            &profile,
            &url,
            &[&screenshot, "--window-size=1280,1600", "--hide-scrollbars"],
        );
        let _ = std::fs::remove_dir_all(&profile);
        let _ = std::fs::remove_dir_all(profile.with_extension(""));
    })
    .await
    .unwrap();
    let png = std::fs::read(&shot).expect("a screenshot");
    // A styled, rendered page is a few hundred KiB; the bare "Loading" page about 20.
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 100_000,
        "{} bytes: not the rendered page",
        png.len()
    );
}
