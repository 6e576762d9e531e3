//! Printing: human text on stdout, or one JSON document per result with
//! `--json`. Failures go to stderr (and, with `--json`, also as JSON on
//! stdout so a script reading stdout sees them).

use serde::Serialize;

use crate::Failure;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Print `value` as JSON, or `human` as text.
    pub fn show<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string(value).unwrap_or_default());
        } else {
            println!("{}", human());
        }
    }
}

pub fn failure(f: &Failure, json: bool) {
    match f {
        Failure::Refused(findings) => {
            eprintln!("vaxdesk: not saved");
            for x in findings.iter() {
                eprintln!("  {x}");
            }
            let warnings: Vec<_> = findings.warnings().map(|w| w.code.as_str()).collect();
            if !warnings.is_empty() && findings.errors().next().is_none() {
                let flags: Vec<_> = warnings.iter().map(|c| format!("--confirm {c}")).collect();
                eprintln!("  to save anyway after checking: {}", flags.join(" "));
            }
            if json {
                println!("{}", serde_json::json!({ "ok": false, "refused": findings }));
            }
        }
        Failure::Input(m) | Failure::Storage(m) | Failure::NotValid(m) | Failure::Unavailable(m) => {
            eprintln!("vaxdesk: {m}");
            if json {
                let kind = match f {
                    Failure::Input(_) => "input",
                    Failure::NotValid(_) => "not_valid",
                    Failure::Unavailable(_) => "unavailable",
                    _ => "storage",
                };
                println!("{}", serde_json::json!({ "ok": false, "error": kind, "message": m }));
            }
        }
    }
}
