//! Helpers shared by the integration tests: python3 as the reference for Python-style scripts.
#![allow(dead_code)]

use serde_json::Map;

/// Runs `src` with python3 (`exec` over one namespace) and returns the named variables as a
/// JSON object, or `Err` with the exception's class and message (`ValueError: ...`).
pub fn python3(src: &str, names: &[&str]) -> Result<serde_json::Value, String> {
    use std::io::Write;
    let program = format!(
        "import json, sys\nns = {{}}\ntry:\n    exec(sys.stdin.read(), ns)\n    print(json.dumps({{k: ns[k] for k in {names:?}}}))\nexcept Exception as e:\n    print('ERROR ' + type(e).__name__ + ': ' + str(e).replace(chr(10), ' '))\n"
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &program])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (the reference for Python-style scripts)");
    child.stdin.take().unwrap().write_all(src.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    match text.trim().strip_prefix("ERROR ") {
        Some(class) => Err(class.to_string()),
        None => Ok(serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))),
    }
}

/// Runs `src` as a servicetask script and returns the named variables, or `Err` with the message.
pub fn servicetask(src: &str, names: &[&str]) -> Result<serde_json::Value, String> {
    let mut vars = Map::new();
    servicetask_bpmn::expr::run_script(src, &mut vars).map_err(|e| e.to_string())?;
    Ok(serde_json::Value::Object(
        names
            .iter()
            .map(|n| (n.to_string(), vars.get(*n).cloned().unwrap_or_default()))
            .collect(),
    ))
}
