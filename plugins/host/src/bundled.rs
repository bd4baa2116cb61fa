//! The plugins embedded in this crate at build time (see build.rs).

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The embedded components: crate name and bytes.
pub(crate) fn components() -> &'static [(&'static str, &'static [u8])] {
    BUNDLED
}
