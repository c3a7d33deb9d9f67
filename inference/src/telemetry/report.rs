//! Errors in log fields: an error with its sources on one line. Each error's message says
//! what failed at its own level and leaves the cause to `source()`, so written this way
//! no cause is repeated or lost.

/// `error: its source: that source's source ...`.
pub fn with_sources(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}
