"""softcollect settlements service: promises to pay, repayment plans and settlements, and their outcomes."""
