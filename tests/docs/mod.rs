//! The README and docs/ as written: the README's first command and its tour run line by
//! line, every stage table agrees with the code, and every cited document exists.

mod citations;
mod readme_first;
mod readme_tour;
mod stage_tables;
