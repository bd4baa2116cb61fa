//! The plugins embedded in this crate at build time (see build.rs).

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// Bundled plugins that this build does not contain, with the reason (a crate that
/// did not build, or is not in the workspace). Empty in a complete build.
pub fn not_built() -> &'static [(&'static str, &'static str)] {
    NOT_BUILT
}

/// The embedded components: crate name and bytes.
pub(crate) fn components() -> &'static [(&'static str, &'static [u8])] {
    BUNDLED
}
