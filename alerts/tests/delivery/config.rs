use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use wflow_alerts::{ChannelConfig, ConfigError, NotifyConfig, SecretRef, Secrets, SecretsFileError, WebhookConfig};

use crate::{channels, failed_alert, notifier};

fn write_secrets(dir: &std::path::Path, text: &str, mode: u32) -> std::path::PathBuf {
    let path = dir.join("secrets.toml");
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[tokio::test]
async fn missing_env_names_variable_and_channel() {
    let config = r#"
        [[channels]]
        type = "webhook"
        name = "ops"
        url = { env = "WFLOW_ALERTS_TEST_NEVER_SET" }
    "#;

    let deliveries = notifier(config, Secrets::empty(), 3).deliver(&failed_alert()).await;

    let delivery = &deliveries[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.attempts, 0);
    let error = delivery.error.as_deref().unwrap();
    assert!(error.contains("environment variable `WFLOW_ALERTS_TEST_NEVER_SET` is not set"), "{error}");
    let summary = delivery.to_string();
    assert!(summary.contains("channel `ops` (webhook)"), "{summary}");
    assert!(summary.contains("`url`"), "{summary}");
}

#[tokio::test]
async fn missing_secret_names_secret_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_secrets(dir.path(), "other = \"x\"\n", 0o600);
    let secrets = Secrets::load(&path).unwrap();
    let config = r#"
        [[channels]]
        type = "webhook"
        name = "ops"
        url = { secret = "hook" }
        headers = { Authorization = { secret = "token" } }
    "#;

    let deliveries = notifier(config, secrets, 3).deliver(&failed_alert()).await;

    let error = deliveries[0].error.as_deref().unwrap();
    assert!(error.contains("secret `hook` is not in the secrets file"), "{error}");
    assert!(error.contains(&path.display().to_string()), "{error}");
}

#[tokio::test]
async fn missing_header_secret_names_header() {
    let secrets = Secrets::from_pairs([("hook", "http://127.0.0.1:9/never-used")]);
    let config = r#"
        [[channels]]
        type = "webhook"
        url = { secret = "hook" }
        headers = { Authorization = { env = "WFLOW_ALERTS_TEST_NO_TOKEN" } }
    "#;

    let deliveries = notifier(config, secrets, 3).deliver(&failed_alert()).await;

    let error = deliveries[0].error.as_deref().unwrap();
    assert!(error.contains("header `Authorization`"), "{error}");
    assert!(error.contains("`WFLOW_ALERTS_TEST_NO_TOKEN`"), "{error}");
    assert_eq!(deliveries[0].attempts, 0);
}

#[test]
fn secrets_file_mode_644_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_secrets(dir.path(), "hook = \"https://hooks.example.com/s3cr3t\"\n", 0o644);

    let error = Secrets::load(&path).unwrap_err();

    assert!(matches!(error, SecretsFileError::Permissions { mode: 0o644, .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("mode 644"), "{message}");
    assert!(message.contains(&format!("chmod 600 {}", path.display())), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[test]
fn secrets_file_mode_640_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_secrets(dir.path(), "hook = \"x\"\n", 0o640);

    assert!(matches!(Secrets::load(&path), Err(SecretsFileError::Permissions { .. })));
}

#[test]
fn secrets_file_mode_600_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write_secrets(dir.path(), "hook = \"https://hooks.example.com/s3cr3t\"\ntoken = \"Bearer abc\"\n", 0o600);

    let secrets = Secrets::load(&path).unwrap();

    assert_eq!(secrets.get("hook").unwrap().expose(), "https://hooks.example.com/s3cr3t");
    assert_eq!(secrets.names().collect::<Vec<_>>(), ["hook", "token"]);
    assert_eq!(secrets.path(), Some(path.as_path()));
    let debug = format!("{secrets:?}");
    assert!(debug.contains("hook"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(!debug.contains("Bearer abc"), "{debug}");
}

#[test]
fn secrets_file_syntax_error_hides_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_secrets(dir.path(), "ok = \"fine\"\nhook = \"https://hooks.example.com/s3cr3t\n", 0o600);

    let error = Secrets::load(&path).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, SecretsFileError::Syntax { line: 2, .. }), "{message}");
    assert!(message.contains("not valid TOML at line 2"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(!message.contains("fine"), "{message}");
}

#[test]
fn secrets_file_rejects_non_string() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_secrets(dir.path(), "port = 8443\n", 0o600);

    let message = Secrets::load(&path).unwrap_err().to_string();

    assert!(message.contains("secret `port`"), "{message}");
    assert!(message.contains("is not a string but a TOML integer"), "{message}");
    assert!(!message.contains("8443"), "{message}");
}

#[test]
fn secrets_file_missing_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");

    let message = Secrets::load(&path).unwrap_err().to_string();

    assert!(message.contains("failed to read secrets file"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn plain_string_url_is_rejected() {
    let text = r#"
        [[channels]]
        type = "webhook"
        url = "https://hooks.example.com/T000/s3cr3t"
    "#;
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct List {
        channels: Vec<ChannelConfig>,
    }

    let error = toml::from_str::<List>(text).unwrap_err();

    let message = error.message();
    assert!(message.contains("a plain string is not accepted here"), "{message}");
    assert!(message.contains("{ env = \"VARIABLE\" }"), "{message}");
    assert!(message.contains("{ secret = \"name\" }"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[test]
fn secret_reference_forms() {
    #[derive(serde::Deserialize)]
    struct Holder {
        value: SecretRef,
    }
    let parse = |text: &str| toml::from_str::<Holder>(text).map(|holder| holder.value);

    assert_eq!(parse("value = { env = \"A\" }").unwrap(), SecretRef::Env("A".into()));
    assert_eq!(parse("value = { secret = \"b\" }").unwrap(), SecretRef::Secret("b".into()));
    for invalid in ["value = { env = \"A\", secret = \"b\" }", "value = { file = \"x\" }", "value = {}"] {
        assert!(parse(invalid).is_err(), "{invalid} was accepted");
    }
    let empty = parse("value = { env = \"\" }").unwrap_err();
    assert!(empty.message().contains("is empty"), "{empty}");
}

#[test]
fn config_debug_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_secrets(dir.path(), "hook = \"https://hooks.example.com/s3cr3t\"\n", 0o600);
    let secrets = Arc::new(Secrets::load(&path).unwrap());
    let config: NotifyConfig = toml::from_str(
        r#"
        [[channels]]
        type = "webhook"
        name = "ops"
        url = { secret = "hook" }
        "#,
    )
    .unwrap();
    let notifier = wflow_alerts::Notifier::from_config(&config, secrets).unwrap();

    let debug = format!("{config:?} {notifier:?}");

    assert!(debug.contains("Secret(\"hook\")"), "{debug}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
}

#[test]
fn channel_defaults_and_durations() {
    let parsed = channels(
        r#"
        [[channels]]
        type = "webhook"
        url = { env = "A" }

        [[channels]]
        type = "slack"
        url = { env = "B" }
        timeout = "1m 30s"

        [[channels]]
        type = "command"
        program = "notify"
        "#,
    );

    assert_eq!(
        parsed[0],
        ChannelConfig::Webhook(WebhookConfig {
            name: None,
            url: SecretRef::Env("A".into()),
            headers: Default::default(),
            timeout: Duration::from_secs(10),
        })
    );
    assert_eq!(parsed[1].timeout(), Duration::from_secs(90));
    assert_eq!(parsed[2].timeout(), Duration::from_secs(30));
}

#[test]
fn unknown_keys_and_types_are_rejected() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct List {
        channels: Vec<ChannelConfig>,
    }
    let cases = [
        ("[[channels]]\ntype = \"webhook\"\nurl = { env = \"A\" }\nurll = 1", "unknown field `urll`"),
        ("[[channels]]\ntype = \"email\"\nurl = { env = \"A\" }", "unknown variant `email`"),
        ("[[channels]]\ntype = \"slack\"\nurl = { env = \"A\" }\ntimeout = \"soon\"", "invalid duration `soon`"),
    ];
    for (text, expected) in cases {
        let error = toml::from_str::<List>(text).unwrap_err();
        assert!(error.message().contains(expected), "{text}: {error}");
    }
}

#[test]
fn notify_config_reads_all_tables() {
    let config: NotifyConfig = toml::from_str(
        r#"
        [on]
        success = true
        late_after = "10m"

        [retry]
        attempts = 5
        backoff = "2s"

        [[channels]]
        type = "slack"
        url = { env = "SLACK_URL" }
        "#,
    )
    .unwrap();

    assert!(config.on.failure);
    assert!(config.on.success);
    assert_eq!(config.on.late_after, Some(Duration::from_secs(600)));
    assert_eq!(config.retry.attempts, 5);
    assert_eq!(config.retry.backoff, Duration::from_secs(2));
    assert_eq!(config.retry.max_backoff, Duration::from_secs(30));
    assert_eq!(config.channels.len(), 1);
}

#[test]
fn notifier_rejects_invalid_channels() {
    let build = |text: &str| wflow_alerts::Notifier::new(channels(text), Arc::new(Secrets::empty())).unwrap_err();

    let duplicate = build(
        "[[channels]]\ntype = \"slack\"\nname = \"a\"\nurl = { env = \"A\" }\n\
         [[channels]]\ntype = \"webhook\"\nname = \"a\"\nurl = { env = \"A\" }",
    );
    assert!(matches!(duplicate, ConfigError::DuplicateName { ref name } if name == "a"), "{duplicate}");

    let zero = build("[[channels]]\ntype = \"slack\"\nurl = { env = \"A\" }\ntimeout = \"0s\"");
    assert!(matches!(zero, ConfigError::ZeroTimeout { ref channel } if channel == "slack-1"), "{zero}");

    let header = build(
        "[[channels]]\ntype = \"webhook\"\nurl = { env = \"A\" }\nheaders = { \"Bad Header\" = { env = \"T\" } }",
    );
    assert!(matches!(header, ConfigError::InvalidHeaderName { .. }), "{header}");

    let program = build("[[channels]]\ntype = \"command\"\nprogram = \"\"");
    assert!(matches!(program, ConfigError::EmptyProgram { .. }), "{program}");

    let reserved =
        build("[[channels]]\ntype = \"command\"\nprogram = \"x\"\nenv = { WFLOW_ALERT_EVENT = { env = \"A\" } }");
    assert!(matches!(reserved, ConfigError::InvalidEnvName { .. }), "{reserved}");

    let attempts = wflow_alerts::Notifier::new(Vec::new(), Arc::new(Secrets::empty()))
        .unwrap()
        .with_retry(wflow_alerts::RetryPolicy { attempts: 0, ..Default::default() })
        .unwrap_err();
    assert!(matches!(attempts, ConfigError::ZeroAttempts), "{attempts}");
}

#[test]
fn unresolved_secrets_listed_before_delivery() {
    let config = r#"
        [[channels]]
        type = "webhook"
        name = "ops"
        url = { secret = "hook" }
        headers = { Authorization = { secret = "token" } }

        [[channels]]
        type = "command"
        name = "pager"
        program = "true"
        env = { PAGER_TOKEN = { env = "WFLOW_ALERTS_TEST_NEVER_SET" } }
    "#;
    let secrets = Secrets::from_pairs([("hook", "http://127.0.0.1:9/never-used")]);

    let problems = notifier(config, secrets, 1).unresolved_secrets();

    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("channel `ops`: failed to resolve header `Authorization`: secret `token`"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with(
            "channel `pager`: failed to resolve `env.PAGER_TOKEN`: environment variable `WFLOW_ALERTS_TEST_NEVER_SET` is not set"
        ),
        "{problems:#?}"
    );
    assert!(!problems.concat().contains("127.0.0.1"), "a secret value leaked: {problems:#?}");
}
