//! Production schedulers, one per target, behind `cfg`.

#[cfg(target_arch = "wasm32")]
pub mod wasm;
