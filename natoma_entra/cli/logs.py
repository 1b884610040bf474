"""placeholder: `natoma-entra logs` is being written."""
