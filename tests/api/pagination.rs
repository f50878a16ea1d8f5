#[allow(unused_imports)] // Placeholder: this module has no tests of its own yet.
use crate::common::*;
