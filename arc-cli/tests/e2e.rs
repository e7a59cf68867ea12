//! `arc new` and `arc generate resource`, end to end: the generated project builds and its
//! own tests pass (its API test covers the generated resource too), and the CLI refuses
//! what it cannot do without touching anything.
//!
//! The project depends on this checkout's arc-runtime by path and reuses the workspace's
//! Cargo.lock (the same versions, from the local cache) and a target directory of its own
//! under the workspace's `target/`, so a second run is incremental.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn arc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run arc")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn a_new_project_with_a_generated_resource_builds_and_passes_its_tests() {
    let scratch = std::env::temp_dir().join(format!("arc-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();

    // Names it cannot use.
    let bad = arc(&scratch, &["new", "Bad Name"]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("not a usable name"), "{}", text(&bad));

    let out = arc(&scratch, &["new", "demo-app"]);
    assert!(out.status.success(), "{}", text(&out));
    let project = scratch.join("demo-app");
    for file in [
        "Cargo.toml",
        "README.md",
        "src/main.rs",
        "src/lib.rs",
        "src/resources/note.rs",
        "tests/api.rs",
    ] {
        assert!(project.join(file).exists(), "{file}");
    }
    let again = arc(&scratch, &["new", "demo-app"]);
    assert!(!again.status.success() && text(&again).contains("already exists"));

    let generate = arc(
        &project,
        &[
            "generate",
            "resource",
            "book",
            "title:string",
            "summary:text?",
            "pages:i32",
            "price:decimal?",
            "rating:f64?",
            "in_print:bool",
            "isbn:uuid?",
            "released_at:datetime?",
            "extra:json?",
        ],
    );
    assert!(generate.status.success(), "{}", text(&generate));
    let lib = std::fs::read_to_string(project.join("src/lib.rs")).unwrap();
    assert!(lib.contains(".resource::<resources::Book>()"), "{lib}");
    let module = std::fs::read_to_string(project.join("src/resources/mod.rs")).unwrap();
    assert!(module.contains("pub mod book;") && module.contains("pub use book::Book;"));
    // Refusals change nothing.
    for (args, says) in [
        (
            &["generate", "resource", "book", "title:string"][..],
            "already exists",
        ),
        (
            &["generate", "resource", "shelf", "size:huge"][..],
            "unknown type `huge`",
        ),
        (
            &["generate", "resource", "shelf", "id:uuid"][..],
            "added to every resource",
        ),
    ] {
        let out = arc(&project, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    assert!(!project.join("src/resources/shelf.rs").exists());
    assert_eq!(
        std::fs::read_to_string(project.join("src/lib.rs")).unwrap(),
        lib
    );

    // The project builds and its own tests pass.
    std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let target = workspace().join("target/arc-e2e");
    let test = Command::new(env!("CARGO"))
        .args(["test", "--offline", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo test");
    assert!(
        test.status.success(),
        "cargo test in the new project:\n{}",
        text(&test)
    );
    let report = text(&test);
    assert!(report.contains("test result: ok. 3 passed"), "{report}");

    // Its CLI knows the generated resource.
    let routes = Command::new(target.join("debug/demo-app"))
        .arg("routes")
        .current_dir(&project)
        .output()
        .expect("the app's binary");
    assert!(routes.status.success(), "{}", text(&routes));
    let table = text(&routes);
    assert!(
        table.lines().any(|l| l.starts_with("DELETE")
            && l.contains("/books/{id}")
            && l.contains("roles(admin)")),
        "{table}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
