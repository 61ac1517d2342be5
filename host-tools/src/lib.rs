//! Host-side tools for kiln.
