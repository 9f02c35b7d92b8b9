//! Reading variables from `--var name=value` and `--vars FILE.json`.

use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::{Map, Value};

/// Parses `name=value` pairs; a value is JSON when it parses, else text.
pub fn parse_pairs(pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            bail!("--var {p}: write it as name=value (for example --var count=3 or --var name=ann)");
        };
        if k.trim().is_empty() {
            bail!("--var {p}: the variable name is empty");
        }
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        out.insert(k.trim().to_string(), value);
    }
    Ok(out)
}

/// Reads a JSON object of variables.
pub fn read_file(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match serde_json::from_str::<Value>(&text).with_context(|| format!("{}: not valid JSON", path.display()))? {
        Value::Object(m) => Ok(m),
        _ => bail!(
            "{}: expected a JSON object of variables, like {{\"count\": 3}}",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_json_when_they_parse() {
        let m = parse_pairs(&["n=3".into(), "s=ann".into(), "b=true".into(), "l=[1,2]".into()]).unwrap();
        assert_eq!(m["n"], 3);
        assert_eq!(m["s"], "ann");
        assert_eq!(m["b"], true);
        assert_eq!(m["l"][1], 2);
        assert!(parse_pairs(&["novalue".into()]).is_err());
    }
}
