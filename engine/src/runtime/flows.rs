//! The flow cache: deployed versions compiled once per YAML hash, kept for the process's
//! life (a version is immutable, so a compiled flow never goes stale).

use super::{Deployment, Error, Result, Runtime, compile, lock};
use crate::flow::{self, Diagnostic, Flow};
use crate::store::{FlowVersion, Store};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Compiled flows by version id, and by hash (two ids never compile one YAML twice).
#[derive(Default)]
pub(super) struct FlowCache {
    by_version: HashMap<Uuid, Arc<Flow>>,
    by_hash: HashMap<String, Arc<Flow>>,
}

impl<S: Store> Runtime<S> {
    /// Checks and compiles a flow, and records it as a new version if its YAML changed.
    pub async fn deploy(&self, file: &str, yaml: &str) -> Result<Deployment> {
        let (flow, warnings) = compile(file, yaml, self.inner.plugins.as_ref())?;
        self.deploy_compiled(flow, warnings).await
    }

    /// Records a flow compiled by [`compile`] (against the plugins this runtime runs) as a
    /// new version if its YAML changed; `warnings` are its validator's warnings.
    pub async fn deploy_compiled(
        &self,
        flow: Flow,
        warnings: Vec<Diagnostic>,
    ) -> Result<Deployment> {
        let deployed = self
            .inner
            .store
            .deploy_flow(
                flow.id(),
                flow.hash(),
                flow.source(),
                Uuid::now_v7(),
                self.inner.clock.now(),
            )
            .await?;
        let flow = {
            let mut flows = lock(&self.inner.flows);
            let flow = flows
                .by_hash
                .entry(flow.hash().to_string())
                .or_insert_with(|| Arc::new(flow))
                .clone();
            flows.by_version.insert(deployed.version.id, flow.clone());
            flow
        };
        Ok(Deployment {
            version: deployed.version,
            flow,
            created: deployed.created,
            warnings,
        })
    }

    /// The compiled flow of a stored version (compiled once per hash).
    pub async fn flow(&self, version: Uuid) -> Result<Arc<Flow>> {
        if let Some(flow) = lock(&self.inner.flows).by_version.get(&version) {
            return Ok(flow.clone());
        }
        let stored: FlowVersion = self.inner.store.flow_version(version).await?;
        let compiled = lock(&self.inner.flows).by_hash.get(&stored.hash).cloned();
        if let Some(flow) = compiled {
            lock(&self.inner.flows)
                .by_version
                .insert(version, flow.clone());
            return Ok(flow);
        }
        // Validated when it was deployed; a version must keep running even if the plugin
        // registry moved on, so no registry checks here.
        let file = format!("{}@v{}", stored.flow_id, stored.version);
        let (flow, _) = flow::load(&file, &stored.source, None)
            .map_err(|diagnostics| Error::InvalidFlow { file, diagnostics })?;
        let flow = Arc::new(flow);
        let mut flows = lock(&self.inner.flows);
        flows.by_hash.insert(stored.hash.clone(), flow.clone());
        flows.by_version.insert(version, flow.clone());
        Ok(flow)
    }
}
