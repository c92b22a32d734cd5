//! A school as the DfE's register describes it, and the files that carry it.
//!
//! * [`types`] and [`inspection`]: the value types of a school (URN, postcode, phase,
//!   establishment type, roll and its census, status, Ofsted outcomes), each parsed once at
//!   the edge. `membership` re-exports them as `membership::school::{types, inspection}` and
//!   persists them.
//! * [`gias`] and [`census`]: the files a partnership already has, read and checked
//!   row by row through [`import_file`]: Windows-1252 (or UTF-8 with a byte-order mark) decoded, columns found by
//!   header name, every problem placed by line and column. What comes out is typed rows;
//!   what is done with them (matching the directory, writing in one transaction) is
//!   `membership::import`'s.
//!
//! No I/O beyond the `Read` it is handed and no database, so the fuzz targets in `fuzz/`
//! build it (instrumented) without SeaORM's dependency tree: a file from outside is hostile
//! input like a GraphQL document or a webhook.

pub mod census;
/// Decoding, columns by header name and problems by line, shared with every other import.
pub use import_file as file;
pub mod gias;
pub mod inspection;
pub mod types;
