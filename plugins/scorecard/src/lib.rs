//! `scorecard`: a points-based credit scorecard read from the node config — numeric and
//! categorical bins, missing-value points, direct points or WoE × coefficient with
//! base-score/odds/PDO scaling — giving a score, a risk grade and adverse reason codes.
//!
//! The logic is plain functions ([`card::CardConfig::parse`], [`score::score`]); the
//! [`Scorecard`] plugin only parses, calls them and shapes the output. See README.md.

pub mod card;
pub mod error;
pub use plugin_sdk::path;
pub mod schema;
pub mod score;

pub use crate::error::Error;
use plugin_sdk::{Info, Reason, TextInput, TextOutput, TextPlugin};

pub const NAME: &str = "scorecard";
pub const VERSION: &str = "1.0.0";

/// The plugin.
pub struct Scorecard;

impl TextPlugin for Scorecard {
    fn describe() -> Info {
        Info {
            name: NAME.into(),
            version: VERSION.into(),
            config_schema: schema::config_schema(),
            output_schema: schema::output_schema(),
        }
    }

    fn run(input: &TextInput<'_>) -> Result<TextOutput, plugin_sdk::Error> {
        Ok(run(input)?)
    }
}

/// One call: validate the card, score the case variables, shape the output. The
/// business date plays no part: a card scores what the variables say.
pub fn run(input: &TextInput<'_>) -> Result<TextOutput, Error> {
    let card = card::CardConfig::parse_json(input.config)?;
    let scored = score::score(&card, &input.vars)?;
    Ok(TextOutput {
        result: scored.to_json(),
        outcome: scored.decision.clone(),
        score: Some(scored.score),
        reasons: scored
            .reasons
            .iter()
            .map(|r| Reason {
                code: r.code.clone(),
                message: r.message.clone(),
                weight: r.points_lost(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests;

plugin_sdk::export_text_plugin!(Scorecard);
