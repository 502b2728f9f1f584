//! Errors in a flow manifest or in the parameters given for it, each with the
//! place it was found and, where one exists, the fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a manifest problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A line and column (both from 1) in the manifest file.
    File { path: PathBuf, line: usize, column: usize },
    /// A `--param` argument on the command line.
    CommandLine { argument: String },
    /// The manifest as a whole, or a parameter missing from every source.
    Flow { path: PathBuf },
}

/// One problem in a manifest: what is wrong, where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(location: Location, message: impl Into<String>) -> Self {
        Diagnostic { location, message: message.into(), help: None }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { path, line, column } => write!(f, "{}:{line}:{column}: {}", path.display(), self.message)?,
            Location::CommandLine { argument } => write!(f, "--param {argument}: {}", self.message)?,
            Location::Flow { path } => write!(f, "{}: {}", path.display(), self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Why a flow could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("failed to read flow manifest `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    /// The manifest or the parameters given for it are invalid.
    #[error("{}", Invalid(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

impl ManifestError {
    /// The problems found, empty for [`ManifestError::Read`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ManifestError::Read { .. } => &[],
            ManifestError::Invalid { diagnostics } => diagnostics,
        }
    }
}

/// Formats a list of diagnostics, one per paragraph, with a count at the end.
struct Invalid<'a>(&'a [Diagnostic]);

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n{} problems found in the flow manifest", self.0.len())?;
        }
        Ok(())
    }
}

/// Turns byte offsets in the manifest text into line and column locations.
pub(crate) struct SourceMap<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        SourceMap { path, text }
    }

    /// The location of byte `offset`, with the column counted in characters.
    pub(crate) fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |index| index + 1);
        let column = before[line_start..].chars().count() + 1;
        Location::File { path: self.path.to_path_buf(), line, column }
    }

    /// The location of the manifest as a whole.
    pub(crate) fn whole(&self) -> Location {
        Location::Flow { path: self.path.to_path_buf() }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
