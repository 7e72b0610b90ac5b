//! The single place where errors become Python exceptions.
//!
//! Every fallible function of the binding returns [`Error`] (or a `PyErr`
//! that Python itself raised, such as a `KeyboardInterrupt`), and only
//! `From<Error> for PyErr` below picks the exception class. The classes are
//! defined in Python (`rumor/errors.py`) because they need two bases
//! (`RumorError` and a built-in such as `ValueError`); this module looks
//! them up and raises them.

use crate::driver::DriverError;
use crate::proto::{ItemError, MetaTooLarge};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use std::fmt::Display;

/// An error of the binding, before it becomes a Python exception.
#[derive(Debug)]
pub(crate) enum Error {
    /// An argument outside its allowed range (`rumor.ArgumentError`).
    Argument(String),
    /// An argument of the wrong type (`rumor.ArgumentTypeError`).
    Type(String),
    /// A config setting out of its range (`rumor.ConfigError`).
    Config(String),
    /// What the driver refused.
    Driver(DriverError),
    /// A broadcast payload, key or value the engine refused.
    Item(ItemError),
    /// Metadata over `max_meta_size`.
    Meta(MetaTooLarge),
    /// No seed answered a join (`rumor.JoinError`).
    Join(String),
    /// A live member holds this node's name (`rumor.NameConflictError`).
    NameConflict(String),
    /// An operation did not complete in time (`rumor.TimeoutError`).
    Timeout(String),
}

/// An argument outside its allowed range, naming the argument, the range
/// and the value given: `"{field} must be {allowed}, got {got}"`.
#[cold]
pub(crate) fn bad_argument(field: &str, allowed: &str, got: impl Display) -> Error {
    Error::Argument(format!("{field} must be {allowed}, got {got}"))
}

/// An argument of the wrong type: `"{field} must be {expected}, got {got}"`.
#[cold]
pub(crate) fn wrong_type(field: &str, expected: &str, got: &Bound<'_, PyAny>) -> Error {
    let name = got.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    Error::Type(format!("{field} must be {expected}, got {name}"))
}

/// A config setting outside its allowed range, worded as [`bad_argument`].
#[cold]
pub(crate) fn bad_setting(field: &str, allowed: &str, got: impl Display) -> Error {
    Error::Config(format!("{field} must be {allowed}, got {got}"))
}

impl From<DriverError> for Error {
    fn from(e: DriverError) -> Self {
        Error::Driver(e)
    }
}

impl From<ItemError> for Error {
    fn from(e: ItemError) -> Self {
        Error::Item(e)
    }
}

impl From<MetaTooLarge> for Error {
    fn from(e: MetaTooLarge) -> Self {
        Error::Meta(e)
    }
}

/// `rumor.errors.<class>(args)`, or a `RuntimeError` if the Python package
/// cannot be imported (the extension used on its own).
fn raise<A>(py: Python<'_>, class: &str, args: A) -> PyErr
where
    A: pyo3::PyErrArguments + Send + Sync + 'static,
{
    let found = py
        .import("rumor.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match found {
        Ok(t) => PyErr::from_type(t, args),
        Err(_) => PyRuntimeError::new_err(args),
    }
}

impl From<Error> for PyErr {
    #[cold]
    fn from(e: Error) -> PyErr {
        Python::attach(|py| match e {
            Error::Argument(msg) => raise(py, "ArgumentError", msg),
            Error::Type(msg) => raise(py, "ArgumentTypeError", msg),
            Error::Config(msg) => raise(py, "ConfigError", msg),
            Error::Item(e) => raise(py, "ItemError", e.to_string()),
            Error::Meta(e) => raise(py, "MetaTooLargeError", e.to_string()),
            Error::Join(msg) => raise(py, "JoinError", msg),
            Error::NameConflict(msg) => raise(py, "NameConflictError", msg),
            Error::Timeout(msg) => raise(py, "TimeoutError", msg),
            Error::Driver(e) => {
                let msg = e.to_string();
                match e {
                    DriverError::Config(_) => raise(py, "ConfigError", msg),
                    // (errno, strerror), as OSError takes them, so `errno`
                    // is set like on any other failed bind.
                    DriverError::Bind(io) => match io.raw_os_error() {
                        Some(errno) => raise(py, "BindError", (errno, msg)),
                        None => raise(py, "BindError", msg),
                    },
                    DriverError::UnspecifiedAddress(_) => raise(py, "ArgumentError", msg),
                    DriverError::Meta(_) => raise(py, "MetaTooLargeError", msg),
                    DriverError::Item(_) => raise(py, "ItemError", msg),
                    DriverError::Closed => raise(py, "NodeClosedError", msg),
                    DriverError::Keyring(_) => raise(py, "KeyringError", msg),
                    DriverError::Entropy(_) => raise(py, "EntropyError", msg),
                }
            }
        })
    }
}

/// `result.or_raise()`: any error the binding converts, as a `PyResult`,
/// for the calls into the driver, the engine and the simulator.
pub(crate) trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E: Into<Error>> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| PyErr::from(e.into()))
    }
}
