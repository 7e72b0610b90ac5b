//! Argument checks shared by `Node`, `Simulation` and `Config`: one rule and
//! one message per kind of argument.

use super::error::{bad_argument, wrong_type, Error};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use std::time::Duration;

/// The longest duration any argument may take, in seconds (about 31 years:
/// far past any timeout, and far from `Duration`'s limit).
pub(crate) const MAX_SECONDS: f64 = 1e9;

/// What every duration argument must be, as its error message says it.
pub(crate) const SECONDS_RANGE: &str = "a number of seconds between 0 and 1e9";

/// `t` as an error message shows it: whole numbers as written (`-1`),
/// others in the shortest form that reads back, with an exponent when very
/// large or small (`1e308`, not 309 digits).
pub(crate) fn shown(t: f64) -> String {
    if t.fract() == 0.0 && t.abs() < 1e16 {
        format!("{t}")
    } else {
        format!("{t:?}")
    }
}

/// `t` seconds as a duration; an [`Error::Argument`] naming `field` unless
/// `t` is finite and in `0..=1e9`.
pub(crate) fn seconds(field: &str, t: f64) -> Result<Duration, Error> {
    if t.is_finite() && (0.0..=MAX_SECONDS).contains(&t) {
        Ok(Duration::from_secs_f64(t))
    } else {
        Err(bad_argument(field, SECONDS_RANGE, shown(t)))
    }
}

/// A Python number (anything with `__float__`, such as `int`, `float` or
/// NumPy's scalars, but not `bool`) as `f64`; an [`Error::Type`] naming
/// `field` otherwise.
pub(crate) fn number(field: &str, v: &Bound<'_, PyAny>) -> Result<f64, Error> {
    if v.is_instance_of::<PyBool>() {
        return Err(wrong_type(field, "a number", v));
    }
    v.extract::<f64>().map_err(|_| wrong_type(field, "a number", v))
}

/// `p` if it is a probability; an [`Error::Argument`] naming `field` otherwise.
pub(crate) fn probability(field: &str, p: f64) -> Result<f64, Error> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(bad_argument(field, "a probability between 0 and 1", shown(p)))
    }
}

/// Checks a number of seconds for the Python side (`SimNode.join`'s
/// timeout, `Simulation.run`'s length): the same rule and message as every
/// duration the binding takes. Returns it as a float.
#[pyfunction(name = "seconds")]
pub(crate) fn check_seconds(field: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    let t = number(field, value)?;
    seconds(field, t)?;
    Ok(t)
}
