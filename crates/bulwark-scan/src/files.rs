//! Secrets and misconfigurations in the files of a target (every layer of an image,
//! including files deleted later) and in the image config.
