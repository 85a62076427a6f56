//! The crontab's layout (a user field or not) and the check every edited line passes:
//! with the platform's real crontab line, in both layouts, a layout ciq cannot tell, and
//! edits cron could not run (put back, said in one line).

use super::*;

/// The platform's crontab line, as its install docs give it.
fn platform_line() -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("third_party/sample-platform/install/installation.md");
    let doc = std::fs::read_to_string(doc).unwrap();
    let line = doc
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("*/10") && l.contains("mod_ci/cron.py"))
        .expect("the install docs give the cron line");
    assert!(line.starts_with("*/10 * * * * python3 "), "{line}");
    line.to_string()
}

/// A rig whose crontab file (outside /etc, so its layout is read from the line) holds `text`.
fn rig_with(text: &str, extra: &str) -> Rig {
    rig_in(Cron::File, text, extra)
}

/// The same with the entry in a crontab file or in the user crontab (`crontab -l`).
fn rig_in(cron: Cron, text: &str, extra: &str) -> Rig {
    let rig = Rig::new(cron);
    let at = match cron {
        Cron::File => "cron.d/sample-platform",
        Cron::User => "sim/user-crontab",
    };
    std::fs::write(rig.p(at), text).unwrap();
    rig.write_config(extra);
    rig.healthy();
    rig
}

#[test]
fn the_platforms_real_line_is_guarded_in_either_layout_and_restored_exactly() {
    let real = platform_line();
    let cmd = real.strip_prefix("*/10 * * * * ").unwrap().to_string();
    for (layout, cron, line, head) in [
        ("user crontab", Cron::User, real.clone(), "*/10 * * * * "),
        ("user", Cron::File, real.clone(), "*/10 * * * * "),
        (
            "system",
            Cron::File,
            format!("*/10 * * * * root {cmd}"),
            "*/10 * * * * root ",
        ),
    ] {
        let original = format!("MAILTO=ops\n{line}\n");
        let rig = rig_in(cron, &original, "");
        let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
        assert_eq!(code(&out), 0, "{layout}: {}", text(&out));
        // The guard is the program; the original command, interpreter and all, is its
        // one quoted argument.
        let want = format!("MAILTO=ops\n{head}{} '{cmd}'\n", guard());
        assert_eq!(rig.cron_text(), want, "{layout} layout");
        let out = rig.run(&["rollback", "--yes"]);
        assert_eq!(code(&out), 0, "{layout}: {}", text(&out));
        assert_eq!(rig.cron_text(), original, "{layout}: byte for byte");
    }
}

#[test]
fn a_crontab_whose_layout_cannot_be_told_is_refused_in_one_line_before_any_change() {
    let real = platform_line();
    let rig = Rig::new(Cron::File);
    // "root" is a user and, on this crontab's PATH, a program too.
    let bin = rig.p("pathbin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("root"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(bin.join("root"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let line = real.replacen("* python3 ", "* root python3 ", 1);
    let original = format!("PATH={}:/usr/bin:/bin\n{line}\n", bin.display());
    std::fs::write(rig.p("cron.d/sample-platform"), &original).unwrap();
    rig.healthy();
    let before = rig.snapshot();
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_ne!(code(&out), 0, "{}", text(&out));
    let err = stderr(&out);
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("crontab_format"))
        .collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("\"root\""), "{err}");
    assert_eq!(rig.snapshot(), before, "nothing changed");
    // Said in the config, it goes ahead.
    rig.write_config("crontab_format = \"system\"\n");
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(rig.cron_text().contains(&format!("* root {} '", guard())));
}

#[test]
fn an_edited_line_cron_could_not_run_is_put_back_and_said_in_one_line() {
    let real = platform_line();
    let original = format!("{real}\n");
    // The broken line: a user-layout file taken for a system one.
    let rig = rig_with(&original, "crontab_format = \"system\"\n");
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = stderr(&out);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("was not kept")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("\"python3\" is not a user"), "{err}");
    assert!(said[0].contains("the previous text is back"), "{err}");
    assert_eq!(rig.cron_text(), original);
    // A guard program that does not exist.
    let rig = rig_with(&original, "");
    rig.write_config_guard(
        "/nonexistent/ciq --config /etc/ciq/ciq.toml cron-guard --",
        "",
    );
    let out = rig.run(&["migrate-from-cron", "next", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("its program /nonexistent/ciq does not exist"),
        "{err}"
    );
    assert_eq!(rig.cron_text(), original);
}
