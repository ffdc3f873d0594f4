//! Production schedulers, one per target, behind `cfg`.
