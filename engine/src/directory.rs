//! The approver directory port: who a user is (roles, authority limit, clearances) and
//! which directory said so, plus its YAML file adapter.
//!
//! The engine never takes roles from its caller: `Runtime::act` looks the user up in a
//! [`Directory`] and records the directory's SHA-256 in the `task_acted` event, so an
//! auditor can tell which staff directory granted an authority.

use crate::case::Actor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// What the directory knows of one person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Identity {
    /// The user id, as the directory and the history name them.
    pub subject: String,
    pub roles: Vec<String>,
    /// The largest amount this person may approve; `None` = no approval authority.
    pub authority_limit: Option<f64>,
    /// What personal data this person may see, e.g. `pii`.
    pub clearances: Vec<String>,
}

impl Identity {
    /// The actor of a state-machine command, vouched for by the directory with `digest`.
    pub fn actor(&self, digest: &str) -> Actor {
        Actor {
            user: self.subject.clone(),
            roles: self.roles.clone(),
            authority_limit: self.authority_limit,
            directory: Some(digest.to_string()),
        }
    }

    pub fn has_clearance(&self, clearance: &str) -> bool {
        self.clearances.iter().any(|c| c == clearance)
    }
}

/// The approver directory port.
pub trait Directory: Send + Sync {
    /// The person `user`, or `None` if the directory does not know them.
    fn who(&self, user: &str) -> Option<Identity>;
    /// Hex SHA-256 of the directory's source: recorded with every action it vouched for.
    fn digest(&self) -> &str;
    /// How messages name this directory (a file path, a URL).
    fn name(&self) -> &str;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the approver directory {name}: {message}")]
    Read { name: String, message: String },
    #[error("the approver directory {name} is invalid: {message}")]
    Invalid { name: String, message: String },
    #[error("`{user}` is not in the approver directory {name}")]
    UnknownUser { user: String, name: String },
}

impl Error {
    /// The refusal of `user`, unknown to `directory`.
    pub fn unknown_user(directory: &dyn Directory, user: &str) -> Error {
        Error::UnknownUser {
            user: user.to_string(),
            name: directory.name().to_string(),
        }
    }
}

/// Looks `user` up, or says that `directory` does not know them.
pub fn identify(directory: &dyn Directory, user: &str) -> Result<Identity, Error> {
    directory
        .who(user)
        .ok_or_else(|| Error::unknown_user(directory, user))
}

/// The YAML directory file (`workflows/directory/approvers.yaml`):
///
/// ```yaml
/// approvers:
///   officer.li:
///     roles: [credit_officer]
///     authority_limit: 200000   # optional: none means no approval authority
///     clearances: [pii]         # optional
/// ```
#[derive(Clone, Debug)]
pub struct YamlDirectory {
    name: String,
    digest: String,
    approvers: BTreeMap<String, Approver>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    approvers: BTreeMap<String, Approver>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Approver {
    roles: Vec<String>,
    #[serde(default)]
    authority_limit: Option<f64>,
    #[serde(default)]
    clearances: Vec<String>,
}

impl YamlDirectory {
    /// Parses a directory's YAML; `name` says where it came from in messages.
    pub fn parse(name: &str, yaml: &str) -> Result<YamlDirectory, Error> {
        let file: File = serde_saphyr::from_str(yaml).map_err(|e| Error::Invalid {
            name: name.to_string(),
            message: e.to_string(),
        })?;
        if let Some((user, a)) = file
            .approvers
            .iter()
            .find(|(_, a)| a.authority_limit.is_some_and(|l| !l.is_finite() || l < 0.0))
        {
            return Err(Error::Invalid {
                name: name.to_string(),
                message: format!(
                    "`{user}`: authority_limit must be a finite amount ≥ 0, got {:?}",
                    a.authority_limit
                ),
            });
        }
        Ok(YamlDirectory {
            name: name.to_string(),
            digest: hex::encode(Sha256::digest(yaml.as_bytes())),
            approvers: file.approvers,
        })
    }

    /// Reads and parses a directory file.
    pub fn read(path: &Path) -> Result<YamlDirectory, Error> {
        let name = path.display().to_string();
        let yaml = std::fs::read_to_string(path).map_err(|e| Error::Read {
            name: name.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&name, &yaml)
    }
}

impl Directory for YamlDirectory {
    fn who(&self, user: &str) -> Option<Identity> {
        self.approvers.get(user).map(|a| Identity {
            subject: user.to_string(),
            roles: a.roles.clone(),
            authority_limit: a.authority_limit,
            clearances: a.clearances.clone(),
        })
    }

    fn digest(&self) -> &str {
        &self.digest
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "approvers:
  officer.li:
    roles: [credit_officer]
    authority_limit: 200000
    clearances: [pii]
  rm.zhao:
    roles: [relationship_manager]
";

    #[test]
    fn the_yaml_directory_names_people_and_its_own_digest() {
        let dir = YamlDirectory::parse("approvers.yaml", YAML).unwrap();
        let li = dir.who("officer.li").unwrap();
        assert_eq!(li.roles, ["credit_officer"]);
        assert_eq!(li.authority_limit, Some(200000.0));
        assert!(li.has_clearance("pii"));
        let zhao = dir.who("rm.zhao").unwrap();
        assert_eq!((zhao.authority_limit, zhao.clearances.len()), (None, 0));
        assert_eq!(dir.digest(), hex::encode(Sha256::digest(YAML.as_bytes())));
        let actor = li.actor(dir.digest());
        assert_eq!(actor.directory.as_deref(), Some(dir.digest()));
        assert_eq!(actor.user, "officer.li");
    }

    #[test]
    fn an_unknown_user_or_a_bad_file_is_a_clear_error() {
        let dir = YamlDirectory::parse("approvers.yaml", YAML).unwrap();
        let err = identify(&dir, "mallory").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`mallory` is not in the approver directory approvers.yaml"
        );
        let err = YamlDirectory::parse("x.yaml", "approvers:\n  a: { roles: [r], limit: 1 }\n")
            .unwrap_err();
        assert!(err.to_string().contains("x.yaml"), "{err}");
        let err = YamlDirectory::parse(
            "x.yaml",
            "approvers:\n  a: { roles: [r], authority_limit: -5 }\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("authority_limit"), "{err}");
    }
}
