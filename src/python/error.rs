//! The single place where Rust errors become Python exceptions.
//!
//! The exception classes are defined in Python (`rumor/errors.py`) because
//! they need two bases (`RumorError` and a built-in such as `ValueError`);
//! this module looks them up and raises them.

use crate::driver::DriverError;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Raises `rumor.errors.<class>` with `msg`, falling back to `fallback` if
/// the Python package cannot be imported (the extension used on its own).
pub(crate) fn rumor_error(py: Python<'_>, class: &str, msg: String) -> PyErr {
    let found = py
        .import("rumor.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match found {
        Ok(t) => PyErr::from_type(t, msg),
        Err(_) => PyRuntimeError::new_err(msg),
    }
}

/// A `ValueError` for an argument outside its allowed range, naming the
/// argument, the range and the value given.
#[cold]
pub(crate) fn bad_argument(field: &str, allowed: &str, got: impl core::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{field} must be {allowed}, got {got}"))
}

/// Converts a driver error to the matching exception.
pub(crate) fn driver_error(py: Python<'_>, e: DriverError) -> PyErr {
    match e {
        DriverError::Config(e) => rumor_error(py, "ConfigError", e.to_string()),
        DriverError::Bind(io) => PyErr::from(io),
        DriverError::UnspecifiedAddress(_) => PyValueError::new_err(e.to_string()),
        DriverError::Meta(_) | DriverError::Item(_) => PyValueError::new_err(e.to_string()),
        DriverError::Closed => rumor_error(py, "NodeClosedError", e.to_string()),
        DriverError::Keyring(_) => rumor_error(py, "KeyringError", e.to_string()),
        DriverError::Entropy(_) => pyo3::exceptions::PyOSError::new_err(e.to_string()),
    }
}
