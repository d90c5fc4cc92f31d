//! The one table's shape. `template.yaml` deploys the same definition; a test holds the two
//! equal, and the DynamoDB adapter creates test tables from this.

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

/// Every key attribute is a string.
pub const KEY_ATTRIBUTES: [&str; 4] = [PK, SK, GSI1_PK, GSI1_SK];
