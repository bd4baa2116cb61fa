//! Views decoded from typed events: a stored event that does not decode names its case
//! and seq; descriptions and explanations read the typed event.

use super::*;
use crate::store::StoredEvent;

fn stored(seq: i64, kind: &str, payload: &str) -> StoredEvent {
    StoredEvent {
        case_id: Uuid::from_u128(7),
        seq,
        kind: kind.into(),
        payload: payload.into(),
        at: "2026-01-05T09:00:00Z".into(),
        prev_hash: "0".repeat(64),
        hash: "1".repeat(64),
    }
}

#[test]
fn an_event_that_does_not_decode_names_its_case_and_seq() {
    let bad = stored(4, "route_taken", r#"{"node":"route"}"#);
    let err = HistoryEntry::decode(&bad).unwrap_err();
    assert!(
        matches!(&err, Error::Undecodable { case_id, seq: 4, kind, .. }
            if *case_id == Uuid::from_u128(7) && kind == "route_taken"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("case 00000000-0000-0000-0000-000000000007: event 4 (`route_taken`)"),
        "{text}"
    );
    assert!(HistoryEntry::decode(&stored(5, "route_taken", "not json")).is_err());
}

#[test]
fn a_route_is_described_and_explained_from_the_typed_event() {
    let route = stored(
        5,
        "route_taken",
        r#"{"at":"2026-01-05T09:00:00Z","expression":"tier == 'fast'","node":"triage","route_index":1,"to":"approved","token":0,"values":{"tier":"fast"}}"#,
    );
    let entry = HistoryEntry::decode(&route).unwrap();
    assert_eq!(
        entry.description,
        "triage: route 2 `tier == 'fast'` read {tier=\"fast\"} → approved"
    );
    let Some(Decision::Route {
        label, values, to, ..
    }) = Decision::of(&entry.event)
    else {
        panic!("a route is a decision");
    };
    assert_eq!(label, "route 2 `tier == 'fast'`");
    assert_eq!(values["tier"], "fast");
    assert_eq!(to, "approved");
    let json = serde_json::to_value(&entry).unwrap();
    assert_eq!(json["type"], "route_taken");
    assert_eq!(json["event"]["route_index"], 1);
}
