//! `{name}` placeholders filled from a task's args: the unique-key templates (checked at
//! config load, filled at enqueue) and an exec runner's argv.

use serde_json::{Map, Value};

/// Fills `{name}` placeholders of a template (unique keys, argv) from the args.
pub fn render(tpl: &str, args: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("template {tpl:?}: unclosed '{{'"))?;
        let name = &rest[open + 1..open + close];
        let v = args
            .get(name)
            .ok_or_else(|| format!("template {tpl:?} needs the argument {name:?}"))?;
        match v {
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_templates_fill_from_args() {
        let mut a = Map::new();
        a.insert("test_id".into(), 42.into());
        assert_eq!(render("start_test:{test_id}", &a).unwrap(), "start_test:42");
        assert!(render("x:{missing}", &a).is_err());
        assert!(render("x:{test_id", &a).unwrap_err().contains("unclosed"));
    }
}
