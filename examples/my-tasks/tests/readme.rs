//! The README's "Your own tasks, your own CLI" is this crate: every block of it is here (the
//! Rust and TOML blocks line for line, the Cargo.toml with versions where this crate has paths),
//! and every command of it is in `walkthrough.sh`, which `.ci/run` runs.

use std::path::PathBuf;

fn read(rel: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The README section's fenced blocks, as (info string, text).
fn blocks() -> Vec<(String, String)> {
    let readme = read("../../README.md");
    let start = readme.find("## Your own tasks, your own CLI").expect("the section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            out.push((info.to_string(), body.join("\n")));
        }
    }
    out
}

/// Every line of `block` appears in `file`, in order (a block may shorten the file).
fn assert_excerpt(block: &str, file: &str, name: &str) {
    let mut rest = file.lines().map(str::trim_end);
    for line in block.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        assert!(
            rest.by_ref().any(|f| f == line),
            "README line not in {name} (or out of order): {line}"
        );
    }
}

#[test]
fn the_readme_blocks_are_this_crates_files() {
    let blocks = blocks();
    let find = |needle: &str| -> &str {
        &blocks
            .iter()
            .find(|(_, b)| b.contains(needle))
            .unwrap_or_else(|| panic!("no README block with {needle}"))
            .1
    };
    assert_excerpt(find("pub fn register"), &read("src/lib.rs"), "src/lib.rs");
    assert_excerpt(find("servicetask_cli::Cli::new()"), &read("src/main.rs"), "src/main.rs");
    assert_excerpt(
        find("[tasks.ship_order]"),
        &read("servicetask.toml"),
        "servicetask.toml",
    );
    assert_excerpt(
        find("[[scenario]]"),
        &read("tests/order.test.toml"),
        "tests/order.test.toml",
    );
    assert_excerpt(
        find("#[tokio::test]"),
        &read("tests/scenarios.rs"),
        "tests/scenarios.rs",
    );

    // Cargo.toml: the same dependencies and features; versions where this crate has paths
    let shown: toml::Table = toml::from_str(find("[dependencies]")).unwrap();
    let ours: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    assert_eq!(shown["package"]["name"], ours["package"]["name"]);
    assert_eq!(
        shown["dependencies"].as_table().unwrap().len(),
        ours["dependencies"].as_table().unwrap().len()
    );
    for (name, dep) in ours["dependencies"].as_table().unwrap() {
        let readme = &shown["dependencies"][name];
        if dep.get("path").is_some() {
            assert_eq!(readme.as_str(), Some("0.1"), "{name}: a version in the README");
        } else {
            assert_eq!(readme, dep, "{name}");
        }
    }
    for (name, dep) in shown["dev-dependencies"].as_table().unwrap() {
        assert_eq!(Some(dep), ours["dev-dependencies"].get(name), "dev-dependency {name}");
    }

    // the commands
    let walkthrough = read("walkthrough.sh");
    let commands = find("cargo run -- tasks");
    for command in commands.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            walkthrough.lines().any(|l| l.ends_with(&format!("-- {command}"))),
            "walkthrough.sh does not run: {command}"
        );
    }
}
