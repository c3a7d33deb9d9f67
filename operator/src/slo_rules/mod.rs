//! The SLO rule generator: burn-rate tiers, PromQL for each indicator, and the rule groups of
//! an SLO. Pure functions of a `ValidSlo`; no I/O.

pub mod burn_rates;
pub mod rules;
pub mod sli;

pub use burn_rates::{Severity, Tier, raised_windows, rate_floor, tiers};
pub use rules::{ABSENT_ALERT, BURN_ALERT, rule_group, rule_groups, rule_names, tile_group};
