"""One way to write dates and times in each language (``FORMAT_MODULE_PATH``): every page, email
and notification uses these, in the network's time zone, so a due time reads the same on the
tracker, the referral page, the inbox, the dashboard and in the email."""
