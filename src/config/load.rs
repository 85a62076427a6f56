//! Finding, parsing and resolving `ciq.toml`.

use super::file::ConfigFile;
use super::*;
use std::path::{Path, PathBuf};

/// Values given on the command line or in `CIQ_*` variables (clap resolves those two).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub broker: Option<Sourced<String>>,
    pub database: Option<Sourced<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("{path}:{line}: {key}: {msg}")]
    Invalid {
        path: String,
        line: usize,
        key: String,
        msg: String,
    },
    #[error("{path}: {key}: {msg}")]
    Semantic {
        path: String,
        key: String,
        msg: String,
    },
}

/// The file to read: an explicit one must exist; otherwise ./ciq.toml, then /etc/ciq/ciq.toml.
fn find_file(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    ["ciq.toml", "/etc/ciq/ciq.toml"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses the file text; errors name the line and the dotted key.
pub fn parse_file(path: &str, text: &str) -> Result<ConfigFile, ConfigError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        ConfigError::Invalid {
            path: path.into(),
            line,
            key: if key == "." { "(syntax)".into() } else { key },
            msg: inner.message().trim().replace('\n', " "),
        }
    })
}

pub fn load(ov: &Overrides) -> Result<Config, ConfigError> {
    let file_path = find_file(ov.config.as_deref());
    let (raw, path_str) = match &file_path {
        Some(p) => {
            let ps = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|err| ConfigError::Read {
                path: ps.clone(),
                err,
            })?;
            (parse_file(&ps, &text)?, ps)
        }
        None => (ConfigFile::default(), "(defaults)".to_string()),
    };
    resolve(raw, file_path, &path_str, ov)
}

/// Flag/env > ciq.toml > the platform's config.py > default.
fn pick_py(
    flag: &Option<Sourced<String>>,
    file: Option<String>,
    py: Option<String>,
    default: &str,
) -> Sourced<String> {
    if let Some(v) = flag {
        return v.clone();
    }
    match (file, py) {
        (Some(v), _) => Sourced::new(v, Source::File),
        (None, Some(v)) => Sourced::new(v, Source::ConfigPy),
        (None, None) => Sourced::new(default.to_string(), Source::Default),
    }
}

/// What ciq takes from the platform's config.py (one source of truth).
#[derive(Default)]
struct FromConfigPy {
    database: Option<String>,
    broker: Option<String>,
    max_runtime: Option<Dur>,
}

fn from_config_py(path: &str) -> Result<FromConfigPy, String> {
    use super::config_py::{literal, Literal};
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let string = |name: &str| match literal(&text, name) {
        Ok(Some(Literal::Str(s))) if !s.is_empty() => Ok(Some(s)),
        Ok(Some(_)) => Err(format!("{path}: {name} is not a string")),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{path}: {e}")),
    };
    let database = string("DATABASE_URI")?
        .map(|u| sqlx_url(&u))
        .transpose()
        .map_err(|e| format!("{path}: DATABASE_URI: {e}"))?;
    let broker = match string("CIQ_BROKER_URL")? {
        Some(b) => Some(b),
        None => string("CELERY_BROKER_URL")?,
    };
    let max_runtime = match literal(&text, "GCP_INSTANCE_MAX_RUNTIME") {
        Ok(Some(Literal::Int(m))) if m > 0 => Some(Dur::secs(m as u64 * 60)),
        Ok(None) => None,
        Ok(Some(_)) => {
            return Err(format!(
                "{path}: GCP_INSTANCE_MAX_RUNTIME must be a positive number of minutes"
            ))
        }
        Err(e) => return Err(format!("{path}: {e}")),
    };
    Ok(FromConfigPy {
        database,
        broker,
        max_runtime,
    })
}

/// SQLAlchemy URL -> sqlx URL: `mysql+pymysql://` -> `mysql://`, `postgresql+…://` ->
/// `postgres://`; sqlite URLs are kept.
pub fn sqlx_url(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "not a database URL".to_string())?;
    let base = scheme.split('+').next().unwrap_or(scheme);
    let to = match base {
        "mysql" | "mariadb" => "mysql",
        "postgresql" | "postgres" => "postgres",
        "sqlite" => "sqlite",
        other => {
            return Err(format!(
                "unsupported database {other:?} (mysql, postgresql or sqlite)"
            ))
        }
    };
    Ok(format!("{to}://{rest}"))
}

fn resolve(
    raw: ConfigFile,
    file: Option<PathBuf>,
    path: &str,
    ov: &Overrides,
) -> Result<Config, ConfigError> {
    let semantic = |key: String, msg: String| ConfigError::Semantic {
        path: path.into(),
        key,
        msg,
    };
    let queues = match raw.queues {
        Some(q) if q.is_empty() => {
            return Err(semantic(
                "queues".into(),
                "[queues] is empty: no worker would take any task; list at least one queue (name = weight) or remove the section for the defaults".into(),
            ))
        }
        Some(q) => Sourced::new(
            q.into_iter()
                .map(|(name, weight)| QueueConfig { name, weight })
                .collect(),
            Source::File,
        ),
        _ => Sourced::new(default_queues(), Source::Default),
    };
    for q in &queues.value {
        crate::broker::keys::validate_queue_name(&q.name)
            .map_err(|m| semantic(format!("queues.{}", q.name), m))?;
        if q.weight == 0 {
            return Err(semantic(
                format!("queues.{}", q.name),
                "weight must be at least 1".into(),
            ));
        }
    }

    let mut tasks: BTreeMap<String, TaskConfig> = BUILTIN_TASKS
        .iter()
        .filter_map(|n| default_task(n).map(|t| (n.to_string(), t)))
        .collect();
    for (name, t) in raw.tasks {
        let builtin = tasks.remove(&name);
        let is_builtin = builtin.is_some();
        let base = builtin.unwrap_or_else(|| TaskConfig::plain("default", 3, Source::File));
        if !is_builtin && t.runner.is_none() {
            return Err(semantic(
                format!("tasks.{name}.runner"),
                "a task that is not built in needs a runner (exec = [...] or http = \"...\")"
                    .into(),
            ));
        }
        let cfg = TaskConfig {
            queue: t.queue.unwrap_or(base.queue),
            max_retries: t.max_retries.unwrap_or(base.max_retries),
            backoff: t.backoff.unwrap_or(base.backoff),
            backoff_max: t.backoff_max.unwrap_or(base.backoff_max),
            soft_time_limit: t.soft_time_limit.or(base.soft_time_limit),
            time_limit: t.time_limit.or(base.time_limit),
            unique: t.unique.or(base.unique),
            runner: t.runner.or(base.runner),
            source: Source::File,
        };
        crate::broker::keys::validate_queue_name(&cfg.queue)
            .map_err(|m| semantic(format!("tasks.{name}.queue"), m))?;
        super::checks::task(&name, &cfg).map_err(|(k, m)| semantic(k, m))?;
        tasks.insert(name, cfg);
    }
    super::checks::routes(&queues.value, &tasks).map_err(|(k, m)| semantic(k, m))?;

    let d = WorkerConfig::default();
    let w = raw.worker;
    let from_file = [
        ("concurrency", w.concurrency.is_some()),
        ("lease", w.lease.is_some()),
        ("heartbeat", w.heartbeat.is_some()),
        ("sweep", w.sweep.is_some()),
        ("upkeep_lease", w.upkeep_lease.is_some()),
        ("shutdown_timeout", w.shutdown_timeout.is_some()),
        ("max_deliveries", w.max_deliveries.is_some()),
        ("dead_max", w.dead_max.is_some()),
        ("history_retention", w.history_retention.is_some()),
        ("history_max", w.history_max.is_some()),
        ("metrics_addr", w.metrics_addr.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let worker = WorkerConfig {
        concurrency: w.concurrency.unwrap_or(d.concurrency),
        lease: w.lease.unwrap_or(d.lease),
        heartbeat: w.heartbeat.unwrap_or(d.heartbeat),
        sweep: w.sweep.unwrap_or(d.sweep),
        upkeep_lease: w.upkeep_lease.unwrap_or(d.upkeep_lease),
        shutdown_timeout: w.shutdown_timeout.unwrap_or(d.shutdown_timeout),
        max_deliveries: w.max_deliveries.unwrap_or(d.max_deliveries).max(1),
        dead_max: w.dead_max.unwrap_or(d.dead_max),
        history_retention: w.history_retention.unwrap_or(d.history_retention),
        history_max: w.history_max.unwrap_or(d.history_max),
        metrics_addr: w.metrics_addr,
        from_file,
    };

    super::checks::worker(&worker).map_err(|(k, m)| semantic(k, m))?;
    let mut platform = raw.platform;
    platform.validate().map_err(|(k, m)| semantic(k, m))?;
    for t in crate::config::PLATFORM_TASKS {
        if tasks.get(*t).is_some_and(|c| c.runner.is_some()) {
            return Err(semantic(
                format!("tasks.{t}.runner"),
                "this platform task runs the platform's own code through the bridge; set [platform] config_py instead of a runner".into(),
            ));
        }
    }
    let mut rollout = raw.rollout;
    let warnings = super::rollout::one_config_py(&mut platform, &mut rollout)
        .map_err(|(k, m)| semantic(k, m))?;
    let py = match platform.config_py.as_deref() {
        Some(f) => from_config_py(f).map_err(|m| semantic("platform.config_py".into(), m))?,
        None => FromConfigPy::default(),
    };
    rollout.ciq_config = file
        .as_ref()
        .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()));
    let mut sources = BTreeMap::new();
    let mut from = |key: &str, src: Option<Source>| {
        if let Some(s) = src {
            sources.insert(key.to_string(), s);
        }
    };
    if platform.max_runtime.is_none() && py.max_runtime.is_some() {
        platform.max_runtime = py.max_runtime;
        from("platform.max_runtime", Some(Source::ConfigPy));
    }
    let env_set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
    let layer = |env: &str, file: bool| {
        if env_set(env) {
            Some(Source::Env)
        } else {
            file.then_some(Source::File)
        }
    };
    let t = raw.broker.as_ref();
    from(
        "broker.min_replicas",
        layer(
            "CIQ_BROKER_MIN_REPLICAS",
            t.is_some_and(|t| t.min_replicas.is_some()),
        ),
    );
    from(
        "broker.min_replicas_timeout",
        layer(
            "CIQ_BROKER_MIN_REPLICAS_TIMEOUT",
            t.is_some_and(|t| t.min_replicas_timeout.is_some()),
        ),
    );
    from(
        "broker.ca_file",
        layer("CIQ_BROKER_CA_FILE", raw.broker_ca_file.is_some()),
    );
    let b = &raw.beat;
    for (k, set) in [
        ("beat.lease", b.lease.is_some()),
        ("beat.tick", b.tick.is_some()),
        ("beat.history", b.history.is_some()),
        ("beat.metrics_addr", b.metrics_addr.is_some()),
        ("schedule", raw.schedule.is_some()),
    ] {
        from(k, set.then_some(Source::File));
    }
    let btable = raw.broker.unwrap_or_default();
    let broker_options = super::broker::options(&btable).map_err(|(k, m)| semantic(k, m))?;
    let mut broker = pick_py(&ov.broker, btable.url, py.broker, DEFAULT_BROKER);
    let user = std::env::var("CIQ_BROKER_USER").ok().or(raw.broker_user);
    let password = match std::env::var("CIQ_BROKER_PASSWORD") {
        Ok(p) => Some(p),
        Err(_) => match std::env::var("CIQ_BROKER_PASSWORD_FILE")
            .ok()
            .or(raw.broker_password_file)
        {
            Some(f) => Some(
                super::broker::read_secret(&f)
                    .map_err(|msg| semantic("broker_password_file".into(), msg))?,
            ),
            None => None,
        },
    };
    if let Some(pw) = password {
        broker.value = super::broker::with_credentials(&broker.value, user.as_deref(), &pw)
            .map_err(|msg| semantic("broker".into(), msg))?;
    }

    let schedule = schedule::resolve(raw.schedule, &tasks).map_err(|(k, m)| semantic(k, m))?;
    schedule::routes(&queues.value, &schedule, &tasks).map_err(|(k, m)| semantic(k, m))?;
    let beat = schedule::resolve_beat(raw.beat).map_err(|(k, m)| semantic(k, m))?;
    let broker_ca_file = std::env::var("CIQ_BROKER_CA_FILE")
        .ok()
        .or(raw.broker_ca_file)
        .map(PathBuf::from);

    Ok(Config {
        file,
        broker,
        broker_options,
        broker_ca_file,
        database: pick_py(&ov.database, raw.database, py.database, DEFAULT_DATABASE),
        queues,
        tasks,
        schedule,
        beat,
        worker,
        rollout,
        platform,
        sources,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_duration_names_line_and_key() {
        let text = "broker = \"redis://x\"\n\n[tasks.start_test]\nbackoff = \"3x\"\n";
        let err = parse_file("ciq.toml", text).unwrap_err().to_string();
        assert!(
            err.starts_with("ciq.toml:4: tasks.start_test.backoff: invalid duration"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = parse_file("c.toml", "[worker]\nleese = \"1s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml:2: worker.leese"), "{err}");
    }

    #[test]
    fn syntax_error_names_line() {
        let err = parse_file("c.toml", "a = 1\nb = [\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:"), "{err}");
    }

    #[test]
    fn file_overrides_builtin_task() {
        let raw = parse_file("c.toml", "[tasks.start_test]\nmax_retries = 2\n").unwrap();
        let c = resolve(raw, None, "c.toml", &Overrides::default()).unwrap();
        let t = c.task("start_test").unwrap();
        assert_eq!(t.max_retries, 2);
        assert_eq!(t.queue, "test_execution");
    }
}
