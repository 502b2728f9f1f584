//! `${NAME}` templates in input file paths and output paths.

use std::collections::BTreeMap;

use super::params::ParamValue;

/// A string with `${NAME}` references to parameters, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

impl Template {
    /// Parses `text`, where `${NAME}` names a parameter and `$$` is a `$`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(index) = rest.find('$') {
            literal.push_str(&rest[..index]);
            rest = &rest[index..];
            if let Some(after) = rest.strip_prefix("$$") {
                literal.push('$');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    return Err(format!("unclosed `${{` in `{text}`"));
                };
                let name = &after[..end];
                if name.is_empty() || !is_identifier(name) {
                    return Err(format!("invalid parameter reference `${{{name}}}` in `{text}`"));
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Param(name.to_string()));
                rest = &after[end + 1..];
            } else {
                return Err(format!("a lone `$` in `{text}`: write `${{NAME}}` for a parameter or `$$` for `$`"));
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// The names of the parameters the template refers to.
    pub(crate) fn params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Param(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Substitutes parameter values. Every referenced name must be in `values`.
    pub(crate) fn render(&self, values: &BTreeMap<String, ParamValue>) -> String {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(literal) => text.push_str(literal),
                Part::Param(name) => text.push_str(&values[name].to_template_text()),
            }
        }
        text
    }
}

/// Whether `name` is a valid id: ASCII letters, digits, `-` and `_`.
pub(crate) fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_substitutes_params_and_escapes() {
        let template = Template::parse("${out}/by_$${month}.csv").unwrap();
        let values = BTreeMap::from([("out".to_string(), ParamValue::String("/tmp/o".into()))]);
        assert_eq!(template.render(&values), "/tmp/o/by_${month}.csv");
        assert_eq!(template.params().collect::<Vec<_>>(), ["out"]);
    }

    #[test]
    fn template_rejects_malformed_references() {
        assert!(Template::parse("${out").is_err());
        assert!(Template::parse("${}").is_err());
        assert!(Template::parse("${a b}").is_err());
        assert!(Template::parse("cost$5").is_err());
    }
}
