//! The TestScheduler's random source and its picks: uniform among `len` candidates, and
//! weighted between priority bands.
//!
//! Candidates sit in one band per [`Priority`]: high (with realtime, which the simulation runs
//! as high), medium, low. A pick draws the band by the weights 60/30/10 among the bands that
//! have candidates, then a candidate uniformly inside it: two draws, O(1). When only one band
//! has candidates (every task medium, the default) it is one uniform draw over that band, as
//! before priorities existed, so a seed's schedule did not change for such tests.

use crate::Priority;
use rand::Rng as _;

/// PCG XSL 128/64 (MCG): a fixed algorithm, so a seed means the same stream on every target and
/// every version of this crate's dependencies.
pub(crate) type Rng = rand_pcg::Pcg64Mcg;

/// An index below `len`, from one draw: Lemire's multiply-shift (its bias, under 2^-40 for any
/// realistic queue, does not matter for scheduling). Computed in u64/u128 so a seed picks the
/// same index on 32- and 64-bit targets.
#[inline]
pub(crate) fn pick(rng: &mut Rng, len: usize) -> usize {
    ((u128::from(rng.next_u64()) * len as u128) >> 64) as usize
}

/// How many bands there are.
pub(crate) const BANDS: usize = 3;

/// Candidates per band (in band order: high, medium, low).
pub(crate) type Lens = [usize; BANDS];

/// The weight of each band, by index.
const WEIGHTS: [u64; BANDS] = [
    Priority::High.weight() as u64,
    Priority::Medium.weight() as u64,
    Priority::Low.weight() as u64,
];

/// The band of `priority`: 0 high (and realtime), 1 medium, 2 low.
#[inline]
pub(crate) fn band_of(priority: Priority) -> usize {
    match priority {
        Priority::High | Priority::Realtime => 0,
        Priority::Medium => 1,
        Priority::Low => 2,
    }
}

/// Total candidates.
#[inline]
pub(crate) fn total(lens: Lens) -> usize {
    lens.iter().sum()
}

/// A candidate's flat index (bands concatenated in order), drawn with the band weights.
#[inline]
pub(crate) fn pick_weighted(rng: &mut Rng, lens: Lens) -> usize {
    // The common case first: every ready task is medium (the same draw as the general path).
    if lens[0] == 0 && lens[2] == 0 {
        return pick(rng, lens[1]);
    }
    let occupied = lens.iter().filter(|&&len| len > 0).count();
    if occupied <= 1 {
        // One band: one uniform draw over it (the flat index of its first candidate is the sum
        // of the empty bands before it: 0).
        let band = lens.iter().position(|&len| len > 0).unwrap_or(0);
        return offset(lens, band) + pick(rng, lens[band]);
    }
    let weight: u64 = (0..BANDS)
        .filter(|&band| lens[band] > 0)
        .map(|band| WEIGHTS[band])
        .sum();
    let mut draw = pick(rng, weight as usize) as u64;
    let mut band = 0;
    loop {
        if lens[band] > 0 {
            if draw < WEIGHTS[band] {
                break;
            }
            draw -= WEIGHTS[band];
        }
        band += 1;
    }
    offset(lens, band) + pick(rng, lens[band])
}

/// The flat index of band `band`'s first candidate.
#[inline]
fn offset(lens: Lens, band: usize) -> usize {
    lens[..band].iter().sum()
}

/// The band of flat index `flat`, and its index inside that band.
#[inline]
pub(crate) fn locate(lens: Lens, mut flat: usize) -> (usize, usize) {
    for (band, &len) in lens.iter().enumerate() {
        if flat < len {
            return (band, flat);
        }
        flat -= len;
    }
    panic!("candidate index out of range")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn one_band_is_one_uniform_draw_as_before_bands() {
        let (mut a, mut b) = (Rng::seed_from_u64(9), Rng::seed_from_u64(9));
        for len in 1..50 {
            assert_eq!(pick_weighted(&mut a, [0, len, 0]), pick(&mut b, len));
        }
    }

    #[test]
    fn bands_are_drawn_by_weight() {
        let mut rng = Rng::seed_from_u64(3);
        let mut counts = [0u32; BANDS];
        let draws = if cfg!(miri) { 1_000 } else { 100_000 };
        for _ in 0..draws {
            counts[locate([1, 1, 1], pick_weighted(&mut rng, [1, 1, 1])).0] += 1;
        }
        let shares = counts.map(|count| f64::from(count) / f64::from(draws));
        for (share, expected) in shares.iter().zip([0.6, 0.3, 0.1]) {
            assert!((share - expected).abs() < 0.05, "shares {shares:?}");
        }
    }

    #[test]
    fn locate_inverts_the_flat_index() {
        let lens = [2, 0, 3];
        let located: Vec<_> = (0..5).map(|flat| locate(lens, flat)).collect();
        assert_eq!(located, [(0, 0), (0, 1), (2, 0), (2, 1), (2, 2)]);
    }
}
