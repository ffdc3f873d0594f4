//! The TestScheduler's random source and its one way of picking among `len` candidates.

use rand::Rng as _;

/// PCG XSL 128/64 (MCG): a fixed algorithm, so a seed means the same stream on every target and
/// every version of this crate's dependencies.
pub(super) type Rng = rand_pcg::Pcg64Mcg;

/// An index below `len`, from one draw: Lemire's multiply-shift (its bias, under 2^-40 for any
/// realistic queue, does not matter for scheduling). Computed in u64/u128 so a seed picks the
/// same index on 32- and 64-bit targets.
pub(super) fn pick(rng: &mut Rng, len: usize) -> usize {
    ((u128::from(rng.next_u64()) * len as u128) >> 64) as usize
}
