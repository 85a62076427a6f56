//! The platform's `config.py`: set the top-level assignment of the feature flag. Reading
//! (and the scanner that finds real top-level assignments) is `config::config_py`; an
//! edit replaces only the value token; every other byte (CRLF, no final newline,
//! comments) is kept.

use crate::config::config_py::assignments;
pub use crate::config::config_py::{read, FlagValue, ADDED_MARKER};
use crate::sys::lines::{lines, newline_of};

/// The file text with the flag set; unchanged text when it already has that value.
pub fn set(text: &str, flag: &str, value: bool) -> Result<String, String> {
    let found = assignments(text, flag);
    if let Some(a) = found.iter().find(|a| a.multiline) {
        return Err(format!(
            "line {}: {flag} is assigned over several lines; set it by hand",
            a.line + 1
        ));
    }
    let all = lines(text);
    if let Some(a) = found.iter().find(|a| {
        let v = &all[a.line].body[a.value.0..a.value.1];
        v != "True" && v != "False"
    }) {
        return Err(format!(
            "line {}: {flag} is set by an expression ({}); ciq will not overwrite it — set it to True or False by hand",
            a.line + 1,
            &all[a.line].body[a.value.0..a.value.1]
        ));
    }
    let word = if value { "True" } else { "False" };
    if found.is_empty() {
        if !value {
            return Ok(text.to_string());
        }
        let nl = newline_of(text);
        let line = format!("{flag} = True  {ADDED_MARKER}");
        return Ok(if text.is_empty() || text.ends_with('\n') {
            format!("{text}{line}{nl}")
        } else {
            format!("{text}{nl}{line}")
        });
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (n, l) in all.iter().enumerate() {
        match found.iter().find(|a| a.line == n) {
            Some(a) if a.added && !value => {
                if l.end.is_empty() {
                    // Appended after a last line without newline: take that newline back.
                    let keep = out.len() - all.get(n.wrapping_sub(1)).map_or(0, |p| p.end.len());
                    out.truncate(keep);
                }
            }
            Some(a) => {
                out.push_str(&l.body[..a.value.0]);
                out.push_str(word);
                out.push_str(&l.body[a.value.1..]);
                out.push_str(l.end);
            }
            None => {
                out.push_str(l.body);
                out.push_str(l.end);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = "USE_CELERY_TASKS";

    #[test]
    fn only_the_top_level_assignment_changes() {
        let t = "# USE_CELERY_TASKS = True in a comment\r\n\
                 DOC = \"\"\"\r\nUSE_CELERY_TASKS = True\r\n\"\"\"\r\n\
                 S = 'USE_CELERY_TASKS = True'\r\n\
                 if X:\r\n    USE_CELERY_TASKS = True\r\n\
                 D = {\r\nUSE_CELERY_TASKS: 1}\r\n\
                 USE_CELERY_TASKS_OLD = True\r\n\
                 USE_CELERY_TASKS = False  # the switch\r\n\
                 OTHER = 1";
        assert_eq!(read(t, F), FlagValue::False);
        let on = set(t, F, true).unwrap();
        assert_eq!(on, t.replace("= False  # the", "= True  # the"));
        assert_eq!(read(&on, F), FlagValue::True);
        assert_eq!(set(&on, F, false).unwrap(), t);
    }

    #[test]
    fn missing_flag_is_appended_and_removed_exactly() {
        for t in ["", "A = 1", "A = 1\n", "A = 1\r\nB = 2"] {
            assert_eq!(read(t, F), FlagValue::Missing);
            let on = set(t, F, true).unwrap();
            assert_eq!(read(&on, F), FlagValue::True, "{on:?}");
            assert_eq!(set(&on, F, false).unwrap(), t);
            assert_eq!(set(t, F, false).unwrap(), t);
        }
        assert_eq!(
            set("A = 1\r\n", F, true).unwrap(),
            "A = 1\r\nUSE_CELERY_TASKS = True  # added by ciq\r\n"
        );
    }

    #[test]
    fn annotations_expressions_and_continuations() {
        assert_eq!(read("USE_CELERY_TASKS: bool = True\n", F), FlagValue::True);
        assert_eq!(
            read("USE_CELERY_TASKS = os.environ.get('X') == '1'\n", F),
            FlagValue::Other("os.environ.get('X') == '1'".into())
        );
        assert!(set("USE_CELERY_TASKS = os.environ.get('X')\n", F, false)
            .unwrap_err()
            .contains("expression"));
        assert_eq!(
            set("USE_CELERY_TASKS = True; A = 1\n", F, false).unwrap(),
            "USE_CELERY_TASKS = False; A = 1\n"
        );
        assert_eq!(read("USE_CELERY_TASKS == True\n", F), FlagValue::Missing);
        let multi = "USE_CELERY_TASKS = (\n    True)\n";
        assert!(set(multi, F, false).unwrap_err().contains("several lines"));
        assert_eq!(
            read("X = 1 \\\nUSE_CELERY_TASKS = True\n", F),
            FlagValue::Missing
        );
    }
}
