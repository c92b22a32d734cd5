//! Demo directory.
