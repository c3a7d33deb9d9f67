//! An error and its causes on one line, each said once. Many errors — kube's among them —
//! print their source inside their own message and return it from `source()` as well; a
//! cause whose text the line already holds is not repeated. Formatting only.

use std::error::Error;
use std::fmt;

/// Displays `error: cause: cause of the cause`, skipping causes already printed.
pub struct Report<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let text = error.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = error.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading config")]
    struct Outer(#[source] Middle);

    /// Prints its source itself, as kube's errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("config unreadable: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_appears_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Outer(Middle(io));
        assert_eq!(
            Report(&error).to_string(),
            "reading config: config unreadable: no such file"
        );
    }

    #[test]
    fn an_error_without_causes_is_its_message() {
        let io = std::io::Error::other("refused");
        assert_eq!(Report(&io).to_string(), "refused");
    }
}
