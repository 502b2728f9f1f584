//! Compiled components kept on disk, so that a component is compiled once.
//!
//! An artifact is stored as `<component hash>-<engine hash>.cwasm` with a
//! `.blake3` file beside it holding the artifact's own hash. The engine hash
//! covers the wasmtime version and every compilation setting, so a changed
//! engine never loads an old artifact. Loading checks the artifact's hash
//! before handing it to wasmtime, because wasmtime trusts a precompiled
//! artifact's contents: a stale, foreign or corrupt file is a cache miss
//! that is compiled again, never loaded.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The origin of a loaded artifact, for reports and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactSource {
    /// Loaded from the artifact folder.
    Disk,
    /// Compiled now, and stored for the next time.
    Compiled,
}

pub(crate) struct ArtifactStore {
    dir: PathBuf,
    engine_hash: String,
}

impl ArtifactStore {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Self {
        ArtifactStore { dir, engine_hash: engine_hash(engine) }
    }

    /// Returns the compiled component, from disk when a valid artifact exists.
    ///
    /// Fails only when the component itself does not compile.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        component_hash: &str,
    ) -> Result<(Component, ArtifactSource)> {
        let path = self.dir.join(format!("{component_hash}-{}.cwasm", self.engine_hash));
        if let Some(component) = self.load_from_disk(engine, &path) {
            return Ok((component, ArtifactSource::Disk));
        }

        let component = Component::new(engine, bytes)?;
        if let Err(error) = self.store(&component, &path) {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "failed to store compiled component");
        }
        Ok((component, ArtifactSource::Compiled))
    }

    fn load_from_disk(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let artifact = match fs::read(path) {
            Ok(artifact) => artifact,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "failed to read compiled component; compiling again");
                return None;
            }
        };
        let expected = fs::read_to_string(checksum_path(path)).unwrap_or_default();
        if blake3::hash(&artifact).to_hex().as_str() != expected.trim() {
            tracing::warn!(path = %path.display(), "compiled component does not match its checksum; compiling again");
            return None;
        }

        // SAFETY: the artifact was written by `store` below from a component
        // that this engine compiled, and its checksum matches, so its bytes
        // are the ones wasmtime produced. wasmtime checks the version and the
        // engine settings recorded in it as well.
        match unsafe { Component::deserialize(engine, &artifact) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "failed to load compiled component; compiling again");
                None
            }
        }
    }

    /// Writes the artifact and then its checksum, each by an atomic rename.
    fn store(&self, component: &Component, path: &Path) -> Result<()> {
        let artifact =
            component.serialize().map_err(anyhow::Error::from).context("failed to serialize the compiled component")?;
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("failed to create artifact folder `{}`", self.dir.display()))?;
        write_atomically(path, &artifact)?;
        write_atomically(&checksum_path(path), blake3::hash(&artifact).to_hex().as_bytes())?;
        Ok(())
    }
}

fn checksum_path(artifact: &Path) -> PathBuf {
    artifact.with_extension("cwasm.blake3")
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("failed to create a temporary file in `{}`", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    file.persist(path).with_context(|| format!("failed to replace `{}`", path.display()))?;
    Ok(())
}

/// Computes a hex hash of everything in the engine that makes artifacts incompatible.
fn engine_hash(engine: &Engine) -> String {
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize().to_hex()[..16].to_string()
}

/// Adapts blake3 to `std::hash::Hasher`, for a hash that is stable across
/// processes (unlike the standard library's randomly keyed hashers).
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let hash = self.0.finalize();
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("a blake3 hash has 32 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
