//! The statistics of a run: medians, spreads, percentiles and ratios.
//! Pure functions, tested below.

/// The median of the finite values of `v` (NaN when there is none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// (max − min) ÷ median of the finite values: how far repetitions disagree.
/// NaN with fewer than two values.
pub fn spread(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.len() < 2 {
        return f64::NAN;
    }
    let max = f.iter().copied().fold(f64::MIN, f64::max);
    let min = f.iter().copied().fold(f64::MAX, f64::min);
    (max - min) / median(f)
}

/// The `p` quantile (0 < p ≤ 1) of values already sorted ascending, by the
/// nearest-rank method; NaN for no values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// `value ÷ reference`, NaN unless both are finite and the reference is
/// positive.
pub fn ratio(value: f64, reference: f64) -> f64 {
    if value.is_finite() && reference.is_finite() && reference > 0.0 {
        value / reference
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_nan() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![f64::NAN, 5.0, 1.0]), 3.0);
        assert!(median(vec![]).is_nan());
        assert!(median(vec![f64::NAN]).is_nan());
    }

    #[test]
    fn spread_ratio_and_percentiles() {
        assert!((spread(&[9.0, 10.0, 11.0]) - 0.2).abs() < 1e-12);
        assert!(spread(&[10.0]).is_nan());
        assert_eq!(ratio(3.0, 2.0), 1.5);
        assert!(ratio(3.0, 0.0).is_nan());
        assert!(ratio(f64::NAN, 2.0).is_nan());
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 500.0);
        assert_eq!(percentile(&v, 0.99), 990.0);
        assert_eq!(percentile(&v, 0.999), 999.0);
        assert_eq!(percentile(&v[..1], 0.99), 1.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
