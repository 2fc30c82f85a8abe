import CLibWebSockets
print(pollcast_lws_pre)
