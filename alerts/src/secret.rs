//! Secret values, references to them in configuration, and the secrets file.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A secret value, such as a webhook URL or a bearer token.
///
/// `Debug` and `Display` print `[redacted]`, so a secret inside a logged or
/// printed structure does not show. [`Secret::expose`] returns the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Returns the value. Callers must not log or print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reference to a secret, written in TOML as `{ env = "NAME" }` or
/// `{ secret = "name" }`.
///
/// A plain string is rejected, so that a deployment file, which is often
/// committed to version control, never contains a webhook URL or token.
/// The reference is resolved each time an alert is delivered, so a changed
/// environment variable or secrets file applies to the next alert. A
/// reference only stores names, so `Debug` shows it whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// The value of an environment variable of the server process.
    Env(String),
    /// The value of an entry of the secrets file, see [`Secrets::load`].
    Secret(String),
}

impl SecretRef {
    /// Resolves the reference against the process environment or `secrets`.
    pub fn resolve(&self, secrets: &Secrets) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if value.is_empty() => Err(SecretError::EnvEmpty { name: name.clone() }),
                Ok(value) => Ok(Secret(value)),
                Err(std::env::VarError::NotPresent) => Err(SecretError::EnvMissing { name: name.clone() }),
                Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::EnvNotUnicode { name: name.clone() }),
            },
            SecretRef::Secret(name) => match secrets.get(name) {
                Some(value) if value.expose().is_empty() => Err(SecretError::SecretEmpty { name: name.clone() }),
                Some(value) => Ok(value.clone()),
                None => match &secrets.path {
                    Some(file) => Err(SecretError::SecretMissing { name: name.clone(), file: file.clone() }),
                    None => Err(SecretError::NoSecretsFile { name: name.clone() }),
                },
            },
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "environment variable `{name}`"),
            SecretRef::Secret(name) => write!(f, "secret `{name}`"),
        }
    }
}

/// The message for a plain string where a secret reference is expected. It
/// leaves out the string, which may be the secret itself.
const PLAIN_STRING_REJECTED: &str = "a plain string is not accepted here, because this value is a secret and \
     the file may be shared or committed; write `{ env = \"VARIABLE\" }` to read it from an environment variable \
     of the server, or `{ secret = \"name\" }` to read it from the secrets file";

/// The message for a table that is not a reference.
const EXPECTED_ONE_KEY: &str = "a secret reference has exactly one key, `env` or `secret`";

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;

        impl<'de> Visitor<'de> for RefVisitor {
            type Value = SecretRef;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table `{ env = \"VARIABLE\" }` or `{ secret = \"name\" }`")
            }

            fn visit_str<E: de::Error>(self, _value: &str) -> Result<SecretRef, E> {
                Err(E::custom(PLAIN_STRING_REJECTED))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(EXPECTED_ONE_KEY));
                };
                let name: String = map.next_value()?;
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(EXPECTED_ONE_KEY));
                }
                if name.is_empty() {
                    return Err(de::Error::custom(
                        "the name in a secret reference is empty; name a variable or secret",
                    ));
                }
                match key.as_str() {
                    "env" => Ok(SecretRef::Env(name)),
                    "secret" => Ok(SecretRef::Secret(name)),
                    _ => {
                        Err(de::Error::custom(format!("unknown key `{key}` in a secret reference; {EXPECTED_ONE_KEY}")))
                    }
                }
            }
        }

        deserializer.deserialize_any(RefVisitor)
    }
}

/// A reference that could not be resolved. The text names the variable or
/// secret, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable `{name}` is not set; set it in the environment of the server process")]
    EnvMissing {
        /// Variable name.
        name: String,
    },
    /// The environment variable is set to an empty string.
    #[error("environment variable `{name}` is empty; set it to the secret value")]
    EnvEmpty {
        /// Variable name.
        name: String,
    },
    /// The environment variable is not valid Unicode.
    #[error("environment variable `{name}` is not valid Unicode; set it to a UTF-8 value")]
    EnvNotUnicode {
        /// Variable name.
        name: String,
    },
    /// The secrets file has no entry of that name.
    #[error("secret `{name}` is not in the secrets file {}; add a line `{name} = \"...\"` to it", file.display())]
    SecretMissing {
        /// Secret name.
        name: String,
        /// Path of the loaded secrets file.
        file: PathBuf,
    },
    /// The secrets file sets the entry to an empty string.
    #[error("secret `{name}` is empty; set it to the secret value in the secrets file")]
    SecretEmpty {
        /// Secret name.
        name: String,
    },
    /// A secret was referenced but no secrets file was loaded.
    #[error("secret `{name}` is referenced but no secrets file is loaded; load one that defines it")]
    NoSecretsFile {
        /// Secret name.
        name: String,
    },
}

/// Named secrets loaded from a secrets file.
///
/// The file is TOML with one `name = "value"` pair per secret:
///
/// ```toml
/// ops_webhook = "https://hooks.example.com/T000/B000/XXXX"
/// ops_token = "Bearer 0123456789abcdef"
/// ```
///
/// `Debug` shows the names and `[redacted]` for each value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    path: Option<PathBuf>,
    values: BTreeMap<String, Secret>,
}

impl Secrets {
    /// Returns a set with no secrets, for a server without a secrets file.
    /// Every `{ secret = "..." }` reference then fails to resolve.
    pub fn empty() -> Self {
        Secrets::default()
    }

    /// Builds a set from name and value pairs, with no file behind it.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let values = pairs.into_iter().map(|(name, value)| (name.into(), Secret::new(value))).collect();
        Secrets { path: None, values }
    }

    /// Loads a secrets file.
    ///
    /// On Unix the file must not be readable, writable or executable by
    /// group or others (`mode & 0o077 == 0`), so a file that other users
    /// can read is rejected before its content is read. Errors never
    /// contain a value from the file: a TOML syntax error gives only the
    /// line and column.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SecretsFileError> {
        let path = path.as_ref();
        let read_error = |source| SecretsFileError::Read { path: path.to_path_buf(), source };
        let mut file = std::fs::File::open(path).map_err(read_error)?;
        check_permissions(path, &file)?;

        let mut text = String::new();
        file.read_to_string(&mut text).map_err(read_error)?;

        let table: toml::Table = toml::from_str(&text).map_err(|error| {
            let (line, column) = match error.span() {
                Some(span) => line_and_column(&text, span.start),
                None => (1, 1),
            };
            SecretsFileError::Syntax { path: path.to_path_buf(), line, column }
        })?;

        let mut values = BTreeMap::new();
        for (name, value) in table {
            match value {
                toml::Value::String(value) => {
                    values.insert(name, Secret(value));
                }
                other => {
                    return Err(SecretsFileError::NotString {
                        path: path.to_path_buf(),
                        name,
                        found: other.type_str(),
                    });
                }
            }
        }
        Ok(Secrets { path: Some(path.to_path_buf()), values })
    }

    /// Returns the secret of that name.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.values.get(name)
    }

    /// Returns the path of the loaded file, absent for sets not loaded from
    /// a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Returns the names of the secrets, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path, file: &std::fs::File) -> Result<(), SecretsFileError> {
    use std::os::unix::fs::PermissionsExt;

    let metadata = file.metadata().map_err(|source| SecretsFileError::Read { path: path.to_path_buf(), source })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretsFileError::Permissions { path: path.to_path_buf(), mode });
    }
    Ok(())
}

// NOTE: other systems get no permission check.
#[cfg(not(unix))]
fn check_permissions(_path: &Path, _file: &std::fs::File) -> Result<(), SecretsFileError> {
    Ok(())
}

/// Returns the 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A secrets file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretsFileError {
    /// The file could not be opened or read.
    #[error("failed to read secrets file {}: {source}", path.display())]
    Read {
        /// Path of the file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Group or others have access to the file.
    #[error(
        "secrets file {} has mode {mode:03o}, so group or others can access it; run `chmod 600 {}` so only its owner can",
        path.display(),
        path.display()
    )]
    Permissions {
        /// Path of the file.
        path: PathBuf,
        /// Permission bits of the file.
        mode: u32,
    },
    /// The file is not valid TOML.
    #[error(
        "secrets file {} is not valid TOML at line {line}, column {column}; write one `name = \"value\"` pair per line",
        path.display()
    )]
    Syntax {
        /// Path of the file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// An entry's value is not a string.
    #[error("secret `{name}` in {} is not a string but a TOML {found}; quote the value", path.display())]
    NotString {
        /// Path of the file.
        path: PathBuf,
        /// Name of the entry.
        name: String,
        /// TOML type of the value, such as `integer` or `table`.
        found: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_and_display_redact() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
    }

    #[test]
    fn line_and_column_of_offset() {
        assert_eq!(line_and_column("a = 1\nbé = x", 11), (2, 5));
        assert_eq!(line_and_column("a", 0), (1, 1));
    }

    #[test]
    fn reference_resolves_from_secrets() {
        let secrets = Secrets::from_pairs([("token", "abc")]);
        let secret = SecretRef::Secret("token".into()).resolve(&secrets).unwrap();
        assert_eq!(secret.expose(), "abc");
    }

    #[test]
    fn reference_without_secrets_file() {
        let error = SecretRef::Secret("token".into()).resolve(&Secrets::empty()).unwrap_err();
        assert_eq!(error, SecretError::NoSecretsFile { name: "token".into() });
    }
}
