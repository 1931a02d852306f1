"""softcollect reminders service: policy-driven contact — e-mails, statements, collector tasks,
resubmissions, every silence explained."""
