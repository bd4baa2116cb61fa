//! Stable diagnostic codes. Tools, tests and docs/FLOW-FORMAT.md match on these: never
//! renumber, only add.

pub const YAML_SYNTAX: &str = "E0001";
pub const DUPLICATE_KEY: &str = "E0002";
pub const WRONG_SHAPE: &str = "E0003";
pub const UNKNOWN_FIELD: &str = "E0004";
pub const MISSING_FIELD: &str = "E0005";
pub const UNKNOWN_KIND: &str = "E0006";
pub const INVALID_ID: &str = "E0007";
pub const INVALID_NUMBER: &str = "E0008";
pub const TOO_LARGE: &str = "E0009";

pub const UNKNOWN_TARGET: &str = "E0101";
pub const UNREACHABLE: &str = "E0102";
pub const NO_PATH_TO_END: &str = "E0103";
pub const AUTOMATIC_CYCLE: &str = "E0104";
pub const JOIN_WITHOUT_PARALLEL: &str = "E0105";
pub const BRANCH_ESCAPES: &str = "E0106";
pub const MISSING_OTHERWISE: &str = "E0107";
pub const NO_ACTIONS: &str = "E0108";
pub const QUORUM_ACTIONS: &str = "E0109";
pub const INVALID_QUORUM: &str = "E0110";
pub const MISPLACED_OTHERWISE: &str = "E0111";
pub const FEW_BRANCHES: &str = "E0112";

pub const CEL_SYNTAX: &str = "E0201";
pub const CEL_TYPE: &str = "E0202";
pub const UNDEFINED_VARIABLE: &str = "W0203";
pub const INVALID_RESULT_NAME: &str = "E0204";

pub const INVALID_DURATION: &str = "E0301";
pub const INVALID_CRON: &str = "E0302";
pub const INVALID_PLUGIN_REF: &str = "E0303";
pub const UNKNOWN_PLUGIN: &str = "E0304";
pub const CONFIG_MISMATCH: &str = "E0305";
pub const INVALID_SCHEMA: &str = "E0306";
pub const TIMER_WAIT: &str = "E0307";

/// Every code with a one-line summary (for `docs/FLOW-FORMAT.md` and tests that keep the
/// two in sync).
pub const ALL: &[(&str, &str)] = &[
    (YAML_SYNTAX, "YAML syntax error"),
    (
        DUPLICATE_KEY,
        "duplicate key (a node id or field written twice)",
    ),
    (
        WRONG_SHAPE,
        "a value of the wrong shape (e.g. a list where a map belongs)",
    ),
    (UNKNOWN_FIELD, "unknown field"),
    (MISSING_FIELD, "required field missing"),
    (UNKNOWN_KIND, "unknown node kind"),
    (INVALID_ID, "invalid flow id, node id, action or role name"),
    (INVALID_NUMBER, "number out of range (retry attempts)"),
    (TOO_LARGE, "flow file over its size limit"),
    (UNKNOWN_TARGET, "a target names no node"),
    (UNREACHABLE, "node unreachable from `start`"),
    (NO_PATH_TO_END, "node with no path to an `end`"),
    (
        AUTOMATIC_CYCLE,
        "cycle of automatic nodes only (task, decision, parallel, join)",
    ),
    (
        JOIN_WITHOUT_PARALLEL,
        "join that closes no parallel, or closes several",
    ),
    (
        BRANCH_ESCAPES,
        "parallel branches that do not meet at one join, or that leave it",
    ),
    (MISSING_OTHERWISE, "decision without `otherwise`"),
    (NO_ACTIONS, "approval without actions"),
    (
        QUORUM_ACTIONS,
        "approval with a quorum but without `approve` and `reject`",
    ),
    (INVALID_QUORUM, "quorum numbers that cannot be met"),
    (
        MISPLACED_OTHERWISE,
        "`otherwise` that is not the last route, or routes after it",
    ),
    (
        FEW_BRANCHES,
        "parallel with fewer than two distinct branches",
    ),
    (CEL_SYNTAX, "CEL syntax error"),
    (CEL_TYPE, "CEL type error"),
    (
        UNDEFINED_VARIABLE,
        "variable that no input field or task result defines (warning)",
    ),
    (
        INVALID_RESULT_NAME,
        "task `result` name that is not an identifier or shadows an input field",
    ),
    (INVALID_DURATION, "invalid duration"),
    (INVALID_CRON, "invalid cron expression"),
    (
        INVALID_PLUGIN_REF,
        "plugin reference not of the form `name@major`",
    ),
    (UNKNOWN_PLUGIN, "plugin not in the registry"),
    (
        CONFIG_MISMATCH,
        "node config that does not match the plugin's config schema",
    ),
    (INVALID_SCHEMA, "invalid `input` schema"),
    (
        TIMER_WAIT,
        "timer with both or neither of `after` and `until`",
    ),
];
