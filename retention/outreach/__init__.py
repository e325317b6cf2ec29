"""Win-back outreach: campaign definition, batch building per wave, the touch log and the channel files."""
