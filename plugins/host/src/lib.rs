//! The plugin host: loads WebAssembly components and runs them in a sandbox.
