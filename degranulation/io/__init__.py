"""Reading and writing model files, results, assay data and exchange formats."""
