//! The PyO3 binding: type conversion, errors, GIL release. No protocol logic.

mod args;
mod asyncio;
mod config;
mod error;
mod hub;
mod node;
mod sim;
mod stats;

use pyo3::prelude::*;

/// Reports `exc` through `sys.unraisablehook`, naming `obj` as its source.
/// The dispatcher uses it for callbacks that raise: the error is seen, the
/// node keeps running.
#[pyfunction]
fn write_unraisable(py: Python<'_>, exc: Bound<'_, PyAny>, obj: Bound<'_, PyAny>) {
    let err = PyErr::from_value(exc);
    err.write_unraisable(py, Some(&obj));
}

/// The compiled core of the `rumor` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<config::PyConfig>()?;
    m.add_class::<node::NativeNode>()?;
    m.add_class::<hub::NativeHub>()?;
    m.add_class::<sim::NativeSim>()?;
    m.add_function(wrap_pyfunction!(write_unraisable, m)?)?;
    m.add_function(wrap_pyfunction!(args::check_seconds, m)?)?;
    Ok(())
}
