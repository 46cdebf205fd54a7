<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US">
<context>
    <name>ActivityList</name>
    <message numerus="yes">
        <location filename="../../app/ui/components/activity_list.py" line="77"/>
        <source>%n new ↑</source>
        <translation>
            <numerusform>%n new ↑</numerusform>
            <numerusform>%n new ↑</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ChatPane</name>
    <message numerus="yes">
        <location filename="../../app/ui/components/chat_pane.py" line="375"/>
        <source>%n message(s)</source>
        <translation>
            <numerusform>%n message</numerusform>
            <numerusform>%n messages</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>LoginDialog</name>
    <message numerus="yes">
        <location filename="../../app/ui/dialogs/login.py" line="186"/>
        <source>refreshed %n time(s)</source>
        <translation>
            <numerusform>refreshed once</numerusform>
            <numerusform>refreshed %n times</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message numerus="yes">
        <location filename="../../app/ui/main_window.py" line="184"/>
        <source>Mark %n unread message(s) read?</source>
        <translation>
            <numerusform>Mark %n unread message read?</numerusform>
            <numerusform>Mark %n unread messages read?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/main_window.py" line="186"/>
        <source>In %n account(s): {0}</source>
        <translation>
            <numerusform>In %n account: {0}</numerusform>
            <numerusform>In %n accounts: {0}</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/main_window.py" line="201"/>
        <source>%n message(s) marked read</source>
        <translation>
            <numerusform>%n message marked read</numerusform>
            <numerusform>%n messages marked read</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="149"/>
        <source>%n new message(s)</source>
        <translation>
            <numerusform>%n new message</numerusform>
            <numerusform>%n new messages</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="152"/>
        <source>%n new message(s) on {accounts} accounts</source>
        <translation>
            <numerusform>%n new message on {accounts} accounts</numerusform>
            <numerusform>%n new messages on {accounts} accounts</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/tray.py" line="169"/>
        <source>HisCRM Console: %n unread</source>
        <translation>
            <numerusform>HisCRM Console: %n unread</numerusform>
            <numerusform>HisCRM Console: %n unread</numerusform>
        </translation>
    </message>
</context>
</TS>
