//! Secrets (issue 10 points 5 and 6, issue 13): refused at every path that builds a task
//! message, redacted at every output, and kept from runner children.

use crate::harness::*;
use std::process::Output;
use std::time::Duration;

const SECRET: &str = "hunter2-xyzzy";

/// Every key and every value in Redis, as text (`redis-cli --scan`, then each by type);
/// `auth` goes before each command (e.g. `-a PASSWORD`).
fn dump(redis: &Redis, auth: &[&str]) -> String {
    let cli = |args: &[&str]| {
        let mut a = auth.to_vec();
        a.extend_from_slice(args);
        redis.cli(&a)
    };
    let mut out = String::new();
    for key in cli(&["--scan"]).lines().filter(|k| !k.is_empty()) {
        let ty = cli(&["TYPE", key]);
        let v = match ty.trim() {
            "string" => cli(&["GET", key]),
            "list" => cli(&["LRANGE", key, "0", "-1"]),
            "hash" => cli(&["HGETALL", key]),
            "set" => cli(&["SMEMBERS", key]),
            "zset" => cli(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
            "stream" => cli(&["XRANGE", key, "-", "+"]),
            other => panic!("unexpected type {other} of {key}"),
        };
        out.push_str(&format!("{key} {v}\n"));
    }
    out
}

/// Exit 2, one `error:` line naming what was refused, and never the secret's value.
fn assert_refused(o: &Output, names: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(err.contains(names), "names {names}: {err}");
    assert!(err.contains("secret"), "{err}");
    assert!(
        !err.contains(SECRET) && !stdout(o).contains(SECRET),
        "{err}"
    );
}

#[test]
fn secrets_are_refused_on_every_path_that_builds_a_message() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    // CLI: nested, pwd-style, bearer, a URL with a password, and a secret unique key.
    let nested = format!(r#"{{"opts":{{"token":"{SECRET}"}}}}"#);
    assert_refused(
        &ciq.run(&["enqueue", "noop", "--args-json", &nested]),
        "opts.token",
    );
    let deep = format!(r#"{{"hosts":[{{"name":"a","pwd":"{SECRET}"}}]}}"#);
    assert_refused(
        &ciq.run(&["enqueue", "noop", "--args-json", &deep]),
        "hosts[0].pwd",
    );
    for (arg, name) in [
        (format!("pwd={SECRET}"), "pwd"),
        (format!("bearer={SECRET}"), "bearer"),
        (format!("session_cookie={SECRET}"), "session_cookie"),
        (format!("target=redis://:{SECRET}@db:6379/0"), "target"),
    ] {
        assert_refused(&ciq.run(&["enqueue", "noop", "--arg", &arg]), name);
    }
    let unique = format!("deploy:token={SECRET}");
    assert_refused(
        &ciq.run(&["enqueue", "noop", "--unique", &unique]),
        "unique key",
    );
    // Config: a schedule entry's args are refused when the config loads, so `beat --once`
    // (and every other command) stops before anything is written.
    ciq.config(&format!(
        "[schedule.leak]\ntask = \"noop\"\nevery = \"1s\"\nargs = {{ opts = {{ api_token = \"{SECRET}\" }} }}\n"
    ));
    let o = ciq.run(&["beat", "--once"]);
    assert_refused(&o, "schedule.leak.args");
    assert!(stderr(&o).contains("opts.api_token"), "{}", stderr(&o));
    ciq.config("");
    // A clean message still goes in: the refusals were about the secrets.
    ciq.ok(&["enqueue", "noop", "--arg", "test_id=7"]);
    ciq.ok(&["beat", "--once"]);

    let d = dump(&redis, &[]);
    assert!(d.contains("test_id"), "the dump sees messages: {d}");
    assert!(!d.contains(SECRET), "a secret reached Redis:\n{d}");
}

/// A message with secrets, as an older ciq or another client could have written it.
fn message(id: &str, extra: &str) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","task":"noop","queue":"default","args":{{"test_id":1,{extra}"opts":{{"token":"{SECRET}","n":2}},"pwd":"{SECRET}","dsn":"mysql://root:{SECRET}@db/x"}},"attempt":1,"max_retries":3,"deliveries":0,"enqueued_at":1,"last_error":"connect redis://:{SECRET}@h failed","reason":"failed permanently"}}"#
    )
}

#[test]
fn every_output_redacts_nested_secrets_and_requeue_refuses_them() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    redis.cli(&[
        "HSET",
        &keys::q("default").data,
        "01DEAD",
        &message("01DEAD", ""),
    ]);
    redis.cli(&["ZADD", &keys::q("default").dead, "1000", "01DEAD"]);
    // A running task: planted in pending, taken by a real worker, sleeping.
    let running = message("01ACTIVE", r#""sleep_ms":60000,"#);
    redis.cli(&["LPUSH", &keys::q("default").pending, &running]);
    let _w = ciq.spawn_worker("w", &[]);
    assert!(
        wait_until(Duration::from_secs(10), || redis
            .int(&["HLEN", &keys::q("default").active])
            == 1),
        "the planted task never ran: {}",
        ciq.log("w")
    );
    for args in [
        vec!["--json", "inspect", "active"],
        vec!["inspect", "active"],
        vec!["--json", "inspect", "dead"],
        vec!["inspect", "dead"],
        vec!["--json", "inspect", "scheduled"],
        vec!["--json", "status"],
    ] {
        let o = ciq.run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let all = stdout(&o) + &stderr(&o);
        assert!(!all.contains(SECRET), "{args:?} shows a secret:\n{all}");
    }
    let active: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["--json", "inspect", "active"])).unwrap();
    let args = &active[0]["args"];
    assert_eq!(args["opts"]["token"], "***", "{active}");
    assert_eq!(args["opts"]["n"], 2, "only secrets are hidden: {active}");
    assert_eq!(args["pwd"], "***", "{active}");
    assert_eq!(args["dsn"], "mysql://root:***@db/x", "{active}");
    let dead: serde_json::Value =
        serde_json::from_str(&ciq.ok(&["--json", "inspect", "dead"])).unwrap();
    assert_eq!(dead[0]["args"]["opts"]["token"], "***", "{dead}");
    assert_eq!(
        dead[0]["last_error"], "connect redis://:***@h failed",
        "{dead}"
    );
    // Requeue builds a fresh message: refused, and the task stays dead.
    let o = ciq.run(&["requeue", "01DEAD"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("refused 01DEAD"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(SECRET));
    assert_eq!(redis.int(&["ZCARD", &keys::q("default").dead]), 1);
    assert_eq!(redis.int(&["LLEN", &keys::q("default").pending]), 0);
    let o = ciq.run(&["requeue", "--dead", "--all"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(redis.int(&["LLEN", &keys::q("default").pending]), 0);
}

#[test]
fn runner_children_get_no_broker_url_or_password() {
    let redis = Redis::start();
    let password = "br0ker-pw-42";
    redis.cli(&["CONFIG", "SET", "requirepass", password]);
    let ciq = Ciq::new(&redis);
    let dir = ciq.dir().display().to_string();
    let pwfile = ciq.dir().join("pw");
    std::fs::write(&pwfile, format!("{password}\n")).unwrap();
    ciq.config(&format!(
        r#"broker_password_file = "{pw}"
[tasks.dumpenv]
runner = {{ exec = ["sh", "-c", "env > {dir}/all.env"], env = {{ EXPLICIT = "from-config" }}, env_deny = ["DENY_*"] }}
[tasks.leaky]
runner = {{ exec = ["sh", "-c", "echo 'cannot reach mysql://root:leaked-pw-9@db/x'; exit 3"] }}
[tasks.dumpallowed]
runner = {{ exec = ["sh", "-c", "env > {dir}/allowed.env"], env_allow = ["PATH", "KEEP_*", "CIQ_BROKER*"], env = {{ EXPLICIT = "x" }} }}
"#,
        pw = pwfile.display()
    ));
    let worker = |name: &str| {
        let log = std::fs::File::create(ciq.dir().join(format!("{name}.log"))).unwrap();
        ciq.cmd(&["work", "--name", name])
            .env("CIQ_BROKER_PASSWORD", password)
            .env("CIQ_BROKER_PASSWORD_FILE", pwfile.as_os_str())
            .env("REDISCLI_AUTH", password)
            .env("KEEP_ME", "yes")
            .env("DENY_THIS", "no")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .map(Proc)
            .expect("spawn worker")
    };
    let _w = worker("w");
    let wait = |task: &str| {
        ciq.cmd(&["enqueue", task, "--wait", "--timeout", "30s"])
            .env("CIQ_BROKER_PASSWORD", password)
            .output()
            .unwrap()
    };
    let o = wait("dumpenv");
    assert!(o.status.success(), "{}{}", stderr(&o), ciq.log("w"));
    let env = std::fs::read_to_string(ciq.dir().join("all.env")).unwrap();
    assert!(
        !env.contains(password),
        "the password reached the runner:\n{env}"
    );
    for gone in [
        "CIQ_BROKER=",
        "CIQ_BROKER_PASSWORD",
        "REDISCLI_AUTH",
        "DENY_THIS",
    ] {
        assert!(!env.contains(gone), "{gone} reached the runner:\n{env}");
    }
    for kept in [
        "KEEP_ME=yes",
        "EXPLICIT=from-config",
        "CIQ_TASK=dumpenv",
        "PATH=",
    ] {
        assert!(env.contains(kept), "{kept} missing:\n{env}");
    }
    // With an allow list only the named variables pass; CIQ_* never does.
    let o = wait("dumpallowed");
    assert!(o.status.success(), "{}", stderr(&o));
    let env = std::fs::read_to_string(ciq.dir().join("allowed.env")).unwrap();
    let mut names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    names.sort();
    // sh itself adds PWD (and may add SHLVL, _); nothing else from the worker passes.
    names.retain(|n| !["PWD", "SHLVL", "_", "OLDPWD"].contains(n));
    assert_eq!(
        names,
        [
            "CIQ_ARGS",
            "CIQ_ATTEMPT",
            "CIQ_TASK",
            "CIQ_TASK_ID",
            "EXPLICIT",
            "KEEP_ME",
            "PATH"
        ],
        "{env}"
    );
    // A runner that prints a connection string with a password: masked in the waiting
    // client's error, in the dead task, in the worker's log and in Redis.
    let o = wait("leaky");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("mysql://root:***@db/x"),
        "{}",
        stderr(&o)
    );
    let dead = ciq
        .cmd(&["--json", "inspect", "dead"])
        .env("CIQ_BROKER_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        stdout(&dead).contains("mysql://root:***@db/x"),
        "{}",
        stdout(&dead)
    );
    let everything = dump(&redis, &["--no-auth-warning", "-a", password]);
    assert!(
        everything.contains("root:***@db"),
        "the dump sees the error text"
    );
    let log = ciq.log("w");
    for leaked in [password, "leaked-pw-9"] {
        assert!(
            !log.contains(leaked),
            "the worker log shows {leaked}:\n{log}"
        );
        assert!(!everything.contains(leaked), "Redis holds {leaked}");
        assert!(!stderr(&o).contains(leaked) && !stdout(&dead).contains(leaked));
    }
}

/// Args do go to `inspect` (a plain arg shows there), and a secret-looking one is masked
/// there: running and dead tasks, table and JSON (the dead table shows no args).
#[test]
fn inspect_redacts_secrets_where_args_are_shown() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let env = r#"{"v":1,"id":"S1","task":"noop","queue":"default","args":{"sleep_ms":1500,"api_token":"hunter2","fail":"fail","label":"plain-arg-7"},"attempt":1,"max_retries":0,"enqueued_at":1}"#;
    redis.cli(&["LPUSH", &keys::q("default").pending, env]);
    let shown = |state: &str, table_args: bool| {
        let json = ciq.ok(&["inspect", state, "--json"]);
        let table = ciq.ok(&["inspect", state]);
        for (out, has_args) in [(&json, true), (&table, table_args)] {
            assert!(out.contains("S1"), "{state}: {out}");
            if has_args {
                assert!(
                    out.contains("plain-arg-7"),
                    "{state}: args are shown here: {out}"
                );
            }
            assert!(!out.contains("hunter2"), "{state}: {out}");
        }
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(rows[0]["id"], "S1", "{state}");
        assert_eq!(rows[0]["args"]["api_token"], "***", "{state}");
        rows[0].clone()
    };
    let mut w = ciq.spawn_worker("w", &[]);
    assert!(wait_until(Duration::from_secs(5), || ciq.depth("default")
        ["active"]
        == 1));
    let row = shown("active", true);
    assert!(row["worker"].as_str().unwrap().starts_with("w@"));
    assert!(wait_until(Duration::from_secs(10), || ciq.depth("default")
        ["dead"]
        == 1));
    shown("dead", false);
    w.stop(Duration::from_secs(10));
}
