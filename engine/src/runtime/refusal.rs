//! Refused attempts to act on a task: when a rule on who may act (role, authority limit,
//! four-eyes, one vote per person) refuses someone, the attempt is recorded beside the
//! case, never in its history, so the case itself does not change.

use super::{Error, Outcome, Result};
use crate::case::Rejected;
use crate::store::{Refusal, Store, Time};
use uuid::Uuid;

/// Someone's attempt to act on a task.
pub(super) struct Attempt<'a> {
    pub(super) case_id: Uuid,
    pub(super) task: &'a str,
    pub(super) action: &'a str,
    pub(super) user: &'a str,
    /// The digest of the directory the user was looked up in.
    pub(super) directory: &'a str,
}

/// The rule a rejection names, for the rejections an auditor wants to see: a person tried
/// what they may not do. Others (a closed task, an unknown action, a stale command) say
/// nothing about the person and are not recorded.
pub fn rule(rejected: &Rejected) -> Option<&'static str> {
    Some(match rejected {
        Rejected::Role { .. } => "role",
        Rejected::Authority { .. } => "authority_limit",
        Rejected::FourEyes { .. } => "four_eyes",
        Rejected::AlreadyVoted { .. } => "already_voted",
        _ => return None,
    })
}

/// Passes `result` on, after recording it if it is a refusal of the person. Should the
/// record fail, the caller hears both: the refusal and why it is not on record.
pub(super) async fn record<S: Store>(
    store: &S,
    attempt: &Attempt<'_>,
    result: Result<Outcome>,
    now: Time,
) -> Result<Outcome> {
    let Err(Error::Rejected(rejected)) = &result else {
        return result;
    };
    let Some(rule) = rule(rejected) else {
        return result;
    };
    let refusal = Refusal {
        case_id: attempt.case_id,
        task_id: attempt.task.to_string(),
        action: attempt.action.to_string(),
        user: attempt.user.to_string(),
        rule: rule.to_string(),
        message: rejected.to_string(),
        directory: Some(attempt.directory.to_string()),
        at: now,
    };
    match store.record_refusal(refusal).await {
        Ok(()) => result,
        Err(error) => Err(Error::RefusalNotRecorded {
            refused: Box::new(rejected.clone()),
            error: Box::new(error),
        }),
    }
}
