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
use plugin_sdk::{Info, Json, Reason, TextInput, TextOutput, TextPlugin};

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

    /// The card, validated and compiled: once per config when the host prepares it.
    type Config = card::Card;

    fn prepare(config: Json<'_>) -> Result<card::Card, plugin_sdk::Error> {
        Ok(card::CardConfig::parse_json(config)?)
    }

    fn run(
        input: &TextInput<'_>,
        card: Result<&card::Card, plugin_sdk::Error>,
    ) -> Result<TextOutput, plugin_sdk::Error> {
        Ok(run_card(input, card?)?)
    }
}

/// One call: validate the card, score the case variables, shape the output. The
/// business date plays no part: a card scores what the variables say.
pub fn run(input: &TextInput<'_>) -> Result<TextOutput, Error> {
    run_card(input, &card::CardConfig::parse_json(input.config)?)
}

/// One call with the card already compiled (what the component runs).
pub fn run_card(input: &TextInput<'_>, card: &card::Card) -> Result<TextOutput, Error> {
    let scored = score::score(card, &input.vars)?;
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
